/** The dashboard's stylesheet, inlined into the page: plain, readable, and a stacked table on a phone. */
export const DASHBOARD_STYLE = `
*{box-sizing:border-box}
body{margin:0;background:#f6f8fa;color:#1f2328;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{max-width:1400px;margin:0 auto;padding:20px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:0 0 10px}
section{background:#fff;border:1px solid #d1d9e0;border-radius:6px;padding:14px 16px;margin:14px 0}
.muted,.note{color:#59636e}.note{display:block;font-size:12px}.empty{color:#59636e;margin:0}
code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace;background:#f6f8fa;padding:1px 4px;border-radius:3px;overflow-wrap:anywhere}
a{color:#0969da}
table{border-collapse:collapse;width:100%}
th{text-align:left;font-size:12px;color:#59636e;font-weight:600;border-bottom:1px solid #d1d9e0;padding:6px 8px;white-space:nowrap}
td{border-bottom:1px solid #eaeef2;padding:8px;vertical-align:top;overflow-wrap:anywhere}
tbody tr:last-child td{border-bottom:0}
.status,.activity,.objective{display:inline-block;border-radius:10px;padding:0 8px;font-size:12px;font-weight:600;white-space:nowrap;print-color-adjust:exact;-webkit-print-color-adjust:exact}
.status{color:#fff}
.status-passed{background:#1a7f37}.status-failed{background:#c4262e}.status-error{background:#bc4c00}.status-aborted{background:#6e7781}
.status-never-run{background:#eaeef2;color:#59636e}
.activity-running{background:#ddf4ff;color:#0969da}.activity-queued{background:#fff8c5;color:#7d4e00}.activity-idle{color:#59636e;padding:0}
.objective-met{background:#dafbe1;color:#1a7f37}.objective-missed{background:#ffebe9;color:#c4262e}.objective-not-measured{background:#eaeef2;color:#59636e}
.trend{display:block;max-width:100%;height:auto}
.run-passed{fill:#1a7f37}.run-failed{fill:#c4262e}.run-error{fill:#bc4c00}.run-aborted{fill:#8c959f}
.trend polyline{fill:none;stroke:#0969da;stroke-width:1.5}
footer{color:#6e7781;font-size:12px;margin:8px 0 0}
@media (max-width:760px){
main{padding:10px}section{padding:10px 12px}
table.stacking thead{display:none}
table.stacking tr{display:block;padding:8px 0;border-bottom:1px solid #d1d9e0}
table.stacking td{display:grid;grid-template-columns:7em minmax(0,1fr);gap:8px;padding:2px 0;border:0}
table.stacking td::before{content:attr(data-label);font-size:12px;color:#59636e}
}
`;
