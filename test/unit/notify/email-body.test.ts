import { describe, expect, it } from 'vitest';
import { renderEmailHtml, renderEmailText } from '../../../src/notify/email-body.ts';
import { errorReport, failedReport, notificationOf, RUN_ID } from './sample-report.ts';

const NAME = `firedrill-orders-${RUN_ID}.html`;

describe('the email body', () => {
  it('gives the status, summary, failed checks, objectives, backup, run and host in both forms', () => {
    const notification = notificationOf(failedReport());
    const html = renderEmailHtml(notification, NAME);
    const text = renderEmailText(notification, NAME);

    for (const body of [html, text]) {
      expect(body).toContain('FAILED');
      expect(body).toContain('returned 0, expected at least 1');
      expect(body).toContain('orders exist');
      expect(body).toContain('2m 10s of 10m (met)');
      expect(body).toContain('5m of 26h (met)');
      expect(body).toContain('20261126T121301Z-1b0338');
      expect(body).toContain('99 KiB');
      expect(body).toContain(RUN_ID);
      expect(body).toContain('drill-runner-1');
      expect(body).toContain(NAME);
    }
    expect(html).toContain('failed: check &#34;orders exist&#34; failed: returned 0, expected at least 1, RTO 2m 10s within 10m');
    expect(text).toContain('failed: check "orders exist" failed: returned 0, expected at least 1, RTO 2m 10s within 10m');
  });

  it('gives the error with its kind and phase when the drill could not run', () => {
    const text = renderEmailText(notificationOf(errorReport()), NAME);

    expect(text).toContain('Error (backup, in backup):\n  could not connect to the source orders-db.internal:5432 (ECONNREFUSED)\n  check source.host');
    expect(text).toContain('RTO:');
    expect(text).toContain('not measured (limit 10m)');
  });

  it('escapes every text', () => {
    const report = failedReport({ drill: 'orders' });
    report.checks[0] = { ...report.checks[0]!, name: '<img src=x onerror=alert(1)>', message: '<script>alert("x")</script> & more' };
    const html = renderEmailHtml(notificationOf(report), NAME);

    expect(html).not.toContain('<script');
    expect(html).not.toContain('<img');
    expect(html).toContain('&#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62; &#38; more');
  });

  it('loads nothing from outside the message: no images, stylesheets, scripts or links', () => {
    const html = renderEmailHtml(notificationOf(failedReport()), NAME);

    expect(html).not.toMatch(/<(img|link|style|script|iframe|object)\b|\b(src|href)=|@import|url\(/i);
  });
});
