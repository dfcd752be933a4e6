/**
 * openapi.yaml as this running gateway serves it: the security each
 * operation needs here and now. The file lists every way a credential may
 * come, and the empty requirement `{}` beside them, because which apply
 * depends on AUTH_MODE; a spec-driven tool reading `{}` concludes that
 * credentials are optional. The served copy keeps the schemes the mode
 * takes and drops `{}` while authentication is on, and names no
 * requirement at all while it is off.
 */
import { isMap, isScalar, isSeq, parseDocument, visit } from 'yaml';
import type { AuthMode } from '../config.js';

export interface ServedSecurity {
  readonly mode: AuthMode;
  /** The header an API key comes in (AUTH_API_KEY_HEADER). */
  readonly apiKeyHeader: string;
  /** Whether an `access_token` query parameter is taken where the file lists it. */
  readonly allowQueryToken: boolean;
}

/** The security schemes each mode takes (an API key may also come as a bearer token). */
function schemesOf(security: ServedSecurity): ReadonlySet<string> {
  const schemes = security.mode === 'api-key' ? ['bearerAuth', 'apiKeyAuth'] : security.mode === 'jwt' ? ['bearerAuth'] : [];
  return new Set(security.allowQueryToken && security.mode !== 'none' ? [...schemes, 'queryToken'] : schemes);
}

export function servedOpenApi(text: string, security: ServedSecurity): string {
  const doc = parseDocument(text);
  const taken = schemesOf(security);
  visit(doc, {
    Pair(_key, pair) {
      if (!isScalar(pair.key) || pair.key.value !== 'security' || !isSeq(pair.value)) return undefined;
      // Each requirement is a map of scheme names; `{}` (no credentials) only while auth is off, and then nothing is required.
      pair.value.items = pair.value.items.filter((item) => {
        if (!isMap(item) || item.items.length === 0) return false;
        return item.items.every((entry) => isScalar(entry.key) && taken.has(String(entry.key.value)));
      });
      return visit.SKIP;
    },
  });
  const header = doc.getIn(['components', 'securitySchemes', 'apiKeyAuth', 'name'], true);
  // Header names are read in lower case; the file's spelling stays when it names the same header.
  if (isScalar(header) && String(header.value).toLowerCase() !== security.apiKeyHeader.toLowerCase()) header.value = security.apiKeyHeader;
  return doc.toString({ lineWidth: 0 });
}
