// The dashboard's shell: header, token screen, one view per URL, and the page title and favicon that
// turn red while anything is failed, overdue or hung.
import { render } from "preact";
import { useEffect, useRef } from "preact/hooks";
import { auth, logOut, getToken } from "./api.js";
import { Link, Time } from "./components.js";
import { freshnessOf, isAlarm } from "./freshness.js";
import { info, liveMode, startLive, statuses, updatedAt } from "./live.js";
import { href, location, parseRoute, type Route } from "./router.js";
import { useStore } from "./store.js";
import { Home } from "./views/Home.js";
import { JobView } from "./views/Job.js";
import { RunView } from "./views/Run.js";
import { RepoView } from "./views/Repo.js";
import { SnapshotView } from "./views/Snapshot.js";
import { RestoreView } from "./views/Restore.js";
import { TokenScreen } from "./views/Token.js";
import { FleetHostView, FleetOverview } from "./views/fleet.js";
import "./style.css";

function View({ route }: { route: Route }) {
  switch (route.name) {
    case "home":
      return <Home />;
    case "job":
      return <JobView job={route.job} />;
    case "run":
      return <RunView id={route.id} step={route.step} />;
    case "repo":
      return <RepoView repo={route.repo} />;
    case "snapshot":
      return <SnapshotView repo={route.repo} id={route.id} path={route.path} />;
    case "restore":
      return <RestoreView repo={route.repo} id={route.id} />;
    case "fleet":
      return <FleetOverview />;
    case "fleetHost":
      return <FleetHostView id={route.id} />;
    case "fleetJob":
      return <JobView job={route.job} host={route.host} />;
    case "fleetRun":
      return <RunView id={route.id} step={route.step} host={route.host} />;
    case "notfound":
      return (
        <>
          <h1 tabIndex={-1}>Not found</h1>
          <p>
            There is no page at <code>{route.path}</code>. <Link href="/">Go home</Link>.
          </p>
        </>
      );
  }
}

const VIEW_TITLE: Record<Route["name"], (r: Route) => string> = {
  home: () => "home",
  job: (r) => (r.name === "job" ? `job ${r.job}` : ""),
  run: (r) => (r.name === "run" ? `run ${r.id.slice(-8)}` : ""),
  repo: (r) => (r.name === "repo" ? `repository ${r.repo}` : ""),
  snapshot: (r) => (r.name === "snapshot" ? `snapshot ${r.id.slice(0, 8)} ${r.path}` : ""),
  restore: (r) => (r.name === "restore" ? `restore from ${r.id.slice(0, 8)}` : ""),
  fleet: () => "fleet",
  fleetHost: (r) => (r.name === "fleetHost" ? `fleet host ${r.id}` : ""),
  fleetJob: (r) => (r.name === "fleetJob" ? `job ${r.job} on ${r.host}` : ""),
  fleetRun: (r) => (r.name === "fleetRun" ? `run ${r.id.slice(-8)} on ${r.host}` : ""),
  notfound: () => "not found",
};

function useAlarm(viewTitle: string): number {
  const jobs = useStore(statuses);
  const now = Date.now();
  const alarms = (jobs ?? []).filter((j) => isAlarm(freshnessOf(j, now))).length;
  useEffect(() => {
    document.title = `${alarms ? `✖ ${alarms} failed or stale · ` : ""}${viewTitle} · holdfast`;
    const icon = document.getElementById("favicon");
    if (icon) icon.setAttribute("href", alarms ? "/favicon-alert.svg" : "/favicon.svg");
  }, [alarms, viewTitle]);
  return alarms;
}

function App() {
  const url = useStore(location);
  const a = useStore(auth);
  const i = useStore(info);
  const updated = useStore(updatedAt);
  const mode = useStore(liveMode);
  const route = parseRoute(url);
  const alarms = useAlarm(VIEW_TITLE[route.name](route));
  const main = useRef<HTMLElement>(null);
  const first = useRef(true);

  useEffect(() => startLive(), []);
  // A new view: focus its heading (screen readers announce it) and start at the top, except on the
  // first load and on back/forward where the browser restores the scroll position.
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    const h = main.current?.querySelector<HTMLElement>("h1");
    h?.focus({ preventScroll: true });
  }, [url.pathname]);

  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class={`top ${alarms ? "alarm" : ""}`}>
        <Link href={href.home()} class="brand" aria-label="holdfast home">
          holdfast
        </Link>
        {i && <span class="muted small host">{i.host}</span>}
        {i?.role === "viewer" && (
          <span class="badge role" title="a viewer token: it may look, not run, cancel, restore or download">
            viewer
          </span>
        )}
        <span class="spacer" />
        {updated && (
          <span class="muted small" aria-live="off" data-live={mode}>
            {mode === "events" ? "live" : "updated"} <Time iso={updated.toISOString()} />
          </span>
        )}
        {getToken() !== null && a.state === "ok" && (
          <button type="button" class="link" onClick={() => logOut()}>
            Log out
          </button>
        )}
      </header>
      <main id="main" ref={main}>
        {a.state === "needed" ? <TokenScreen wrong={a.wrong} /> : <View route={route} />}
      </main>
    </>
  );
}

const root = document.getElementById("app");
if (root) render(<App />, root);
