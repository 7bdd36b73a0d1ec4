// One cookie jar per simulated user: a `fetch` that sends the jar's cookies and stores every
// Set-Cookie it receives (tough-cookie parses them, honouring Max-Age=0 clears, Path, HttpOnly...).
// Redirects are followed by hand so that cookies set on a 3xx response are kept, as a browser does.
import { CookieJar } from 'tough-cookie';

// `connect(url)`: where to send a request for `url` (host names that do not resolve, such as
// api.orgauth.test, to 127.0.0.1); cookies stay keyed by `url`.
export function createJar({ onResponse, connect = (url) => url } = {}) {
  const jar = new CookieJar();

  async function jarFetch(input, init = {}) {
    let url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const follow = (init.redirect ?? 'follow') === 'follow';
    let method = init.method ?? 'GET';
    let body = init.body;
    for (let hop = 0; ; hop++) {
      const headers = new Headers(init.headers);
      const cookie = await jar.getCookieString(url);
      if (cookie) headers.set('cookie', cookie);
      else headers.delete('cookie');
      const res = await fetch(connect(url), { ...init, method, body, headers, redirect: 'manual' });
      for (const setCookie of res.headers.getSetCookie()) await jar.setCookie(setCookie, url);
      onResponse?.({ method, url: new URL(url), status: res.status, response: res });
      const location = res.headers.get('location');
      if (!follow || res.status < 300 || res.status >= 400 || !location) return res;
      if (hop >= 5) throw new Error(`too many redirects from ${url}`);
      url = new URL(location, url).href;
      if (res.status !== 307 && res.status !== 308) {
        method = 'GET';
        body = undefined;
      }
    }
  }

  return {
    fetch: jarFetch,
    /** The decoded-as-sent value of a cookie, or undefined. */
    async get(url, name) {
      const cookies = await jar.getCookies(url);
      return cookies.find((c) => c.key === name)?.value;
    },
    async names(url) {
      return (await jar.getCookies(url)).map((c) => c.key);
    },
    raw: jar,
  };
}
