// A person at the browser, played by headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core): given an authorization URL of Bastion's embedded authorization server, it
// signs in on the login page, answers the consent page, and returns where the browser was sent.
// Screenshots of the login and consent pages are saved as test artifacts.
//
//   const r = await browserSignIn(url, { username: 'admin', password, artifactsDir, name: 'sdk' });
//   r.callbackUrl   // the client's redirect URI with code (or error), state and iss
//
// The first navigation that leaves the authorization server's origin is the redirect back to the
// client; its URL is returned even when nothing listens there (tests that exchange the code
// themselves register a redirect URI on a closed loopback port). `interceptPrefix`, when given,
// restricts which URL counts as that redirect.
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.BASTION_CHROMIUM || '/usr/bin/chromium';

export async function browserSignIn(authorizationUrl, {
  username,
  password,
  decision = 'approve',
  artifactsDir,
  name = 'sign-in',
  interceptPrefix = null,
  timeoutMs = 60_000,
  // For a test server with a self-signed certificate; never needed against a real deployment.
  ignoreHTTPSErrors = false,
} = {}) {
  if (artifactsDir) fs.mkdirSync(artifactsDir, { recursive: true });
  const asOrigin = new URL(authorizationUrl).origin;
  const screenshots = [];
  const consoleMessages = [];
  const pages = [];
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // Root cannot use Chromium's sandbox; these runs only ever load our own loopback pages.
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-dev-shm-usage'],
    timeout: timeoutMs,
  });
  try {
    const context = await browser.newContext({ viewport: { width: 900, height: 760 }, ignoreHTTPSErrors });
    const page = await context.newPage();
    page.setDefaultTimeout(timeoutMs);
    // CSP violations and other page errors show up here: a page that needs inline script or
    // style would complain, and the test can assert that nothing did.
    page.on('console', (m) => consoleMessages.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => consoleMessages.push(`pageerror: ${e.message}`));

    // The redirect back to the client is recorded as the browser starts it (every redirect hop is
    // a request event), whether or not anything listens there: a test without a callback
    // listener still learns the code, and a real listener (an SDK client, the conformance suite)
    // gets the request as usual.
    let callbackUrl = null;
    let resolveArrived;
    const arrived = new Promise((resolve) => { resolveArrived = resolve; });
    page.on('request', (request) => {
      if (callbackUrl !== null || !request.isNavigationRequest() || request.frame() !== page.mainFrame()) return;
      const url = request.url();
      if (url.startsWith(asOrigin) || url.startsWith('about:') || url.startsWith('chrome-error:')) return;
      if (interceptPrefix && !url.startsWith(interceptPrefix)) return;
      callbackUrl = url;
      resolveArrived();
    });

    const shot = async (step) => {
      if (!artifactsDir) return;
      const file = path.join(artifactsDir, `${name}-${screenshots.length + 1}-${step}.png`);
      await page.screenshot({ path: file, fullPage: true });
      screenshots.push(file);
    };

    try {
      await page.goto(authorizationUrl, { waitUntil: 'load' });
    } catch (e) {
      // Sent straight back to a client that does not listen (consent remembered): fine.
      if (callbackUrl === null) throw e;
    }
    pages.push({ url: page.url(), title: await page.title() });
    if (callbackUrl === null && await page.locator('form[action="/oauth/login"]').count() > 0) {
      await shot('login');
      await page.fill('#username', username);
      await page.fill('#password', password);
      await page.click('#sign-in');
      // Either the consent page, the login page again (an error message), or straight back to
      // the client when consent was given before.
      await Promise.race([arrived, page.locator('#approve, #deny, .message').first().waitFor()]);
      pages.push({ url: page.url(), title: await page.title() });
    }
    if (callbackUrl === null) {
      const button = decision === 'approve' ? '#approve' : '#deny';
      const consent = page.locator(button);
      if (await consent.count() === 0) {
        // Not the consent page: a refused sign-in or an error page. Keep its picture and text.
        await shot('unexpected');
        const text = await page.locator('body').innerText();
        throw new Error(`no consent page after sign-in (at ${page.url()}): ${text.slice(0, 500)}`);
      }
      await shot('consent');
      await consent.click();
    }
    await Promise.race([
      arrived,
      new Promise((_, reject) => setTimeout(() => reject(new Error(`the browser was not sent back to the client within ${timeoutMs} ms`)), timeoutMs).unref()),
    ]);
    const params = Object.fromEntries(new URL(callbackUrl).searchParams);
    const cookies = await context.cookies();
    return { callbackUrl, params, screenshots, consoleMessages, pages, cookies };
  } finally {
    await browser.close();
  }
}
