import { describe, expect, it } from 'vitest';
import { matchRoute, pathSegments } from '../../../src/server/routes.ts';

describe('matchRoute', () => {
  it('finds each route by method and path', () => {
    expect(matchRoute('GET', '/')).toEqual({ kind: 'route', route: { name: 'dashboard' } });
    expect(matchRoute('GET', '/healthz')).toEqual({ kind: 'route', route: { name: 'health' } });
    expect(matchRoute('HEAD', '/readyz')).toEqual({ kind: 'route', route: { name: 'ready' } });
    expect(matchRoute('GET', '/metrics')).toEqual({ kind: 'route', route: { name: 'metrics' } });
    expect(matchRoute('GET', '/api/drills')).toEqual({ kind: 'route', route: { name: 'drills' } });
    expect(matchRoute('GET', '/api/drills/')).toEqual({ kind: 'route', route: { name: 'drills' } });
    expect(matchRoute('GET', '/api/drills/orders/runs')).toEqual({ kind: 'route', route: { name: 'drill runs', drill: 'orders' } });
    expect(matchRoute('POST', '/api/drills/orders/run')).toEqual({ kind: 'route', route: { name: 'request run', drill: 'orders' } });
    expect(matchRoute('GET', '/api/runs/20261126T031500Z-3f9a1c')).toEqual({ kind: 'route', route: { name: 'run', runId: '20261126T031500Z-3f9a1c' } });
    expect(matchRoute('GET', '/reports/orders/20261126T031500Z-3f9a1c.html')).toEqual({ kind: 'route', route: { name: 'report page', drill: 'orders', run: '20261126T031500Z-3f9a1c' } });
    expect(matchRoute('GET', '/reports/orders/latest.html')).toEqual({ kind: 'route', route: { name: 'report page', drill: 'orders', run: 'latest' } });
  });

  it('says which methods a known path answers when asked with another', () => {
    expect(matchRoute('DELETE', '/api/drills')).toEqual({ kind: 'method not allowed', allow: ['GET', 'HEAD'] });
    expect(matchRoute('GET', '/api/drills/orders/run')).toEqual({ kind: 'method not allowed', allow: ['POST'] });
    expect(matchRoute('POST', '/healthz')).toEqual({ kind: 'method not allowed', allow: ['GET', 'HEAD'] });
  });

  it('finds nothing at unknown paths, extra segments, or report pages that are not .html', () => {
    for (const path of ['/nope', '/api', '/api/drills/orders', '/api/drills/orders/runs/extra', '/reports/orders', '/reports/orders/20261126T031500Z-3f9a1c.json', '/api//drills', 'api/drills']) {
      expect(matchRoute('GET', path), path).toEqual({ kind: 'not found' });
    }
  });

  it('decodes each segment after splitting, so an encoded slash stays inside its segment for the handler to refuse', () => {
    expect(matchRoute('GET', '/reports/..%2f..%2fetc/passwd.html')).toEqual({ kind: 'route', route: { name: 'report page', drill: '../../etc', run: 'passwd' } });
    expect(pathSegments('/reports/a%2Fb/c.html')).toEqual(['reports', 'a/b', 'c.html']);
  });

  it('matches nothing when a segment does not decode', () => {
    expect(pathSegments('/reports/%E0%A4%A/x.html')).toBeUndefined();
    expect(matchRoute('GET', '/api/runs/%zz')).toEqual({ kind: 'not found' });
  });
});
