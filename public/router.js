// Views live in the URL's fragment (#/topics/orders/messages), so the
// gateway serves one page, links can be shared and bookmarked, and the
// browser's back and forward buttons move between views.

/** The current route: path segments (decoded) and the fragment's query. */
export function currentRoute() {
  const raw = location.hash.replace(/^#/, '') || '/topics';
  const [path, search = ''] = raw.split('?');
  const segments = path
    .split('/')
    .filter(Boolean)
    .map((s) => {
      try {
        return decodeURIComponent(s);
      } catch {
        return s;
      }
    });
  return { segments, query: new URLSearchParams(search) };
}

/** A fragment link: href('topics', name, 'messages') -> '#/topics/<name>/messages'. */
export function href(...segments) {
  return `#/${segments.map((s) => encodeURIComponent(s)).join('/')}`;
}

/** Rewrites the fragment's query without a new history entry (a filter typed letter by letter). */
export function replaceQuery(values) {
  const { segments } = currentRoute();
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(values)) if (value) query.set(name, value);
  const search = query.toString();
  history.replaceState(null, '', `${href(...segments)}${search ? `?${search}` : ''}`);
}

export function navigate(fragment) {
  location.hash = fragment;
}
