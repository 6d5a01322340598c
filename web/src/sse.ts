// Server-Sent Events read with fetch() (so the Bearer header can go with them): the parsing of one
// event block, and a reader that hands each event of a response body to a callback.

export interface SseEvent {
  id: string | null;
  event: string;
  data: string | null;
  retry: number;
}

export function parseEvent(block: string): SseEvent {
  let id: string | null = null;
  let event = "message";
  const data: string[] = [];
  let retry = 0;
  for (const line of block.split(/\r?\n/)) {
    if (line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "id") id = value;
    else if (field === "event") event = value;
    else if (field === "data") data.push(value);
    else if (field === "retry" && /^\d+$/.test(value)) retry = Number(value);
  }
  return { id, event, data: data.length ? data.join("\n") : null, retry };
}

/** Reads the events of a text/event-stream body until it ends (or the fetch's signal aborts it). */
export async function readEvents(
  body: NonNullable<Response["body"]>,
  onEvent: (ev: SseEvent) => void,
): Promise<void> {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let end: number;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        onEvent(parseEvent(block));
      }
    }
  } finally {
    reader.releaseLock();
  }
}
