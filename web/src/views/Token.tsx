// The token screen: a named token or server.token_file's, kept in this tab only; a refused token says so.
import { useState } from "preact/hooks";
import { setToken } from "../api.js";
import { restartLive } from "../live.js";

export function TokenScreen({ wrong }: { wrong: boolean }) {
  const [value, setValue] = useState("");
  return (
    <section class="panel narrow" aria-labelledby="token-h">
      <h1 id="token-h" tabIndex={-1}>
        API token
      </h1>
      {wrong ? (
        <p class="error" role="alert">
          Wrong token: the server refused it (mistyped, cut short, or removed). Paste it again, or ask for a
          new one (<code>holdfast serve token add NAME</code>).
        </p>
      ) : (
        <p>
          This server needs an API token: one made by <code>holdfast serve token add NAME --role viewer</code>
          (or operator), or the content of <code>server.token_file</code>. It is kept only in this tab, until
          you log out or close it.
        </p>
      )}
      <form
        onSubmit={(e) => {
          e.preventDefault();
          const token = value.trim();
          if (!token) return;
          setToken(token);
          setValue("");
          restartLive();
        }}
      >
        <label for="token-input">Token</label>
        <div class="row">
          <input
            id="token-input"
            type="password"
            autoComplete="off"
            spellcheck={false}
            value={value}
            onInput={(e) => setValue(e.currentTarget.value)}
            aria-invalid={wrong}
            required
          />
          <button type="submit">Use token</button>
        </div>
      </form>
    </section>
  );
}
