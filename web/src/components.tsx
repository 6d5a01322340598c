// Small shared pieces: links that route in-page, times with seconds on hover, status badges, errors.
import type { ComponentChildren } from "preact";
import { errorText } from "./api.js";
import { formatDuration, fullTime, relative, shortTime } from "./format.js";
import { linkClick } from "./router.js";

export function Link(props: {
  href: string;
  children: ComponentChildren;
  class?: string;
  "aria-label"?: string;
  "aria-current"?: "page";
}) {
  const { href, children, ...rest } = props;
  return (
    <a href={href} onClick={linkClick} {...rest}>
      {children}
    </a>
  );
}

/** A time in the browser's zone: short in the text, with seconds and zone on hover. */
export function Time({ iso, rel }: { iso: string | null | undefined; rel?: boolean }) {
  if (!iso) return <span class="muted">—</span>;
  const exact = fullTime(iso);
  return (
    <time dateTime={iso} title={exact}>
      {rel ? relative(iso) : shortTime(iso)}
    </time>
  );
}

export function Duration({ ms }: { ms: number | null | undefined }) {
  if (ms === null || ms === undefined) return <span class="muted">—</span>;
  return <span class="num">{formatDuration(ms)}</span>;
}

const STATUS_TONE: Record<string, string> = {
  succeeded: "ok",
  ok: "ok",
  warning: "warn",
  late: "warn",
  running: "run",
  pending: "muted",
  skipped: "muted",
  never: "muted",
  failed: "bad",
  overdue: "bad",
  hung: "bad",
  stale: "bad",
  cancelled: "bad",
  interrupted: "bad",
  timed_out: "bad",
  at_risk: "bad",
};

export function Badge({ status, label }: { status: string; label?: string }) {
  const tone = STATUS_TONE[status] ?? "muted";
  return <span class={`badge ${tone}`}>{label ?? status.replace("_", " ")}</span>;
}

export function ErrorBox({ error, title }: { error: unknown; title?: string }) {
  const { message, hint } = errorText(error);
  return (
    <div class="error" role="alert">
      {title && <strong>{title}: </strong>}
      {message}
      {hint && <div class="hint">{hint}</div>}
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="muted loading" role="status" aria-live="polite">
      Loading {what}…
    </p>
  );
}

export function Crumbs({ items }: { items: Array<{ label: string; href?: string }> }) {
  return (
    <nav aria-label="Breadcrumb" class="crumbs">
      <ol>
        {items.map((item, i) => (
          <li key={`${i}:${item.label}`}>
            {item.href && i < items.length - 1 ? (
              <Link href={item.href}>{item.label}</Link>
            ) : (
              <span aria-current={i === items.length - 1 ? "page" : undefined}>{item.label}</span>
            )}
          </li>
        ))}
      </ol>
    </nav>
  );
}
