/** The WHATWG event-stream format read back: fields, blank-line dispatch, comments. */
export interface SseEvent {
  readonly id?: string;
  readonly event?: string;
  readonly data?: string;
  readonly retry?: number;
}

/** One block (the lines between blank lines): its event, if it makes one, and its comments. */
export function parseBlock(block: string): { event?: SseEvent; comments: string[] } {
  const comments: string[] = [];
  const fields: { id?: string; event?: string; data?: string[]; retry?: number } = {};
  for (const line of block.split(/\r\n|\n|\r/)) {
    if (line === '') continue;
    if (line.startsWith(':')) {
      comments.push(line.slice(1).trim());
      continue;
    }
    const at = line.indexOf(':');
    const name = at === -1 ? line : line.slice(0, at);
    const value = at === -1 ? '' : line.slice(at + 1).replace(/^ /, '');
    if (name === 'id') fields.id = value;
    else if (name === 'event') fields.event = value;
    else if (name === 'data') (fields.data ??= []).push(value);
    else if (name === 'retry') fields.retry = Number(value);
  }
  const { data, ...rest } = fields;
  if (data === undefined && Object.keys(rest).length === 0) return { comments };
  return { event: data === undefined ? rest : { ...rest, data: data.join('\n') }, comments };
}

/** Blocks end at a blank line; the text after the last one is not complete yet. */
export function splitBlocks(text: string): { blocks: string[]; rest: string } {
  const blocks = text.split(/\r\n\r\n|\n\n|\r\r/);
  const rest = blocks.pop() ?? '';
  return { blocks, rest };
}

/** The parts of an event-stream text: complete events (and `retry`-only blocks) and comment lines; a trailing partial block is left out. */
export function parseEventStream(text: string): { events: SseEvent[]; comments: string[] } {
  const events: SseEvent[] = [];
  const comments: string[] = [];
  for (const block of splitBlocks(text).blocks) {
    const parsed = parseBlock(block);
    if (parsed.event) events.push(parsed.event);
    comments.push(...parsed.comments);
  }
  return { events, comments };
}
