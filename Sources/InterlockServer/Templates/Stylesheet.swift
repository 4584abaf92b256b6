/// The console's only stylesheet, served as `/static/console.css` (CSP: `style-src 'self'`).
/// Large touch targets and one column on narrow screens: it is read on tablets on the shop floor.
enum Stylesheet {
    static let css = """
        :root { --fg: #1d2430; --muted: #5b6575; --bg: #f5f6f8; --card: #fff; --line: #d8dce3; --ok: #13703a; --warn: #8a5a00; --bad: #b0261c; --accent: #1f4fa3; }
        * { box-sizing: border-box; }
        body { margin: 0; font: 17px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
        header.top { display: flex; flex-wrap: wrap; align-items: center; gap: .5rem 1.5rem; padding: .6rem 1rem; background: #18212f; color: #fff; }
        header.top a { color: #fff; text-decoration: none; padding: .5rem .6rem; border-radius: 6px; }
        header.top a[aria-current] { background: #33425a; }
        .brand { font-weight: 700; font-size: 1.15rem; }
        nav { display: flex; gap: .3rem; flex-wrap: wrap; }
        .signout { margin-left: auto; display: flex; align-items: center; gap: .6rem; }
        .signout small { color: #c5cbd6; }
        main { max-width: 1200px; margin: 0 auto; padding: 1rem; }
        footer { text-align: center; color: var(--muted); font-size: .85rem; padding: 2rem 1rem; }
        h1 { font-size: 1.6rem; margin: .5rem 0 1rem; }
        h2 { font-size: 1.2rem; margin: 0 0 .6rem; }
        h2 small, h1 small { color: var(--muted); font-weight: 400; }
        .card { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 1rem 1.2rem; margin: 0 0 1rem; }
        .narrow { max-width: 30rem; margin: 2rem auto; }
        .grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(22rem, 1fr)); gap: 1rem; }
        dl { display: grid; grid-template-columns: max-content 1fr; gap: .3rem 1rem; margin: .5rem 0; }
        dt { color: var(--muted); }
        dd { margin: 0; }
        .meta, .hint { color: var(--muted); }
        .empty { padding: 1.2rem; background: var(--card); border: 1px dashed var(--line); border-radius: 10px; color: var(--muted); }
        .badge { display: inline-block; padding: .1rem .55rem; border-radius: 999px; font-size: .85rem; font-weight: 600; background: #e6e9ef; }
        .badge.ok { background: #dcf3e4; color: var(--ok); } .badge.warn { background: #fdf0d5; color: var(--warn); } .badge.bad { background: #fbe0dd; color: var(--bad); }
        .flash { padding: .7rem 1rem; border-radius: 8px; background: #e7eefb; } .flash.error { background: #fbe0dd; color: var(--bad); } .flash.ok { background: #dcf3e4; color: var(--ok); }
        .ok { color: var(--ok); } .warn { color: var(--warn); } .bad { color: var(--bad); }
        table.list { width: 100%; border-collapse: collapse; background: var(--card); }
        table.list th, table.list td { text-align: left; padding: .55rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
        table.list th { font-size: .85rem; color: var(--muted); }
        tr.failure td { background: #fff4f3; }
        .filters { display: flex; flex-wrap: wrap; align-items: center; gap: .4rem .7rem; margin-bottom: 1rem; }
        .filters input, .filters select { min-width: 8rem; }
        input, select, textarea, button { font: inherit; padding: .6rem .7rem; border: 1px solid #7a8394; border-radius: 8px; min-height: 2.8rem; }
        button { background: var(--accent); color: #fff; border: 0; cursor: pointer; padding: .6rem 1.1rem; }
        button.approve { background: var(--ok); } button.reject { background: var(--bad); }
        .signout button { background: #33425a; }
        .stack { display: flex; flex-direction: column; gap: .45rem; }
        .forms { display: grid; grid-template-columns: repeat(auto-fit, minmax(18rem, 1fr)); gap: 1.5rem; }
        .gates { list-style: none; padding: 0; } .gates li { padding: .35rem 0; }
        .gates li.open .mark { color: var(--ok); } .gates li.closed .mark { color: var(--warn); } .gates li.blocked .mark { color: var(--bad); }
        .op h3 { font-size: 1rem; margin: 1rem 0 .3rem; }
        .sym { display: inline-block; width: 1.4rem; text-align: center; font-weight: 700; border-radius: 4px; }
        .sym.create { background: #dcf3e4; color: var(--ok); } .sym.update { background: #fdf0d5; color: var(--warn); } .sym.delete { background: #fbe0dd; color: var(--bad); }
        pre.diff { background: #f7f8fa; border: 1px solid var(--line); border-radius: 8px; padding: .6rem .8rem; overflow-x: auto; font-size: .9rem; line-height: 1.35; margin: 0; }
        pre.diff .add { color: var(--ok); background: #eefaf2; display: inline-block; width: 100%; }
        pre.diff .del { color: var(--bad); background: #fdf1f0; display: inline-block; width: 100%; }
        pre.diff .hunk { color: #6a3fb5; }
        code { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: .92em; overflow-wrap: anywhere; }
        .crumbs { color: var(--muted); }
        ul.drift li { color: var(--warn); }
        .skip { position: absolute; left: -10000px; top: .5rem; background: #fff; color: var(--fg); padding: .6rem 1rem; border-radius: 6px; z-index: 10; }
        .skip:focus { left: .5rem; }
        ol.timeline { list-style: none; padding: 0; margin: 0; } ol.timeline li { padding: .3rem 0; border-bottom: 1px solid var(--line); }
        ol.timeline li.failed { color: var(--bad); } ol.timeline .when { font-variant-numeric: tabular-nums; }
        .print-only { display: none; }
        ol.pipeline { list-style: none; padding: 0; margin: 0; display: grid; grid-auto-flow: column; grid-auto-columns: minmax(240px, 1fr); gap: 1.2rem; overflow-x: auto; }
        ol.pipeline > li.wave { border-left: 4px solid var(--line); padding-left: .8rem; }
        ol.pipeline > li.wave + li.wave::before { content: "→"; position: relative; left: -1.5rem; color: var(--muted); font-size: 1.3rem; float: left; }
        ul.sites { list-style: none; padding: 0; margin: 0; } ul.sites li.site { padding: .4rem 0; border-bottom: 1px solid var(--line); }
        ul.sites .detail { color: var(--muted); font-size: .92rem; } .countdown { font-variant-numeric: tabular-nums; color: var(--warn); font-size: .9rem; }
        details.decide { margin-top: .8rem; } details.decide summary { cursor: pointer; font-weight: 600; padding: .4rem 0; }
        ul.risk { list-style: none; padding: 0; margin: 0; } ul.risk li { padding: .3rem 0; }
        ul.risk .level { display: inline-block; min-width: 5.2rem; font-size: .8rem; font-weight: 700; text-transform: uppercase; border: 1px solid currentColor; border-radius: 4px; padding: 0 .3rem; margin-right: .4rem; text-align: center; }
        ul.risk li.high .level { color: var(--bad); } ul.risk li.notable .level { color: var(--warn); } ul.risk li.info .level { color: var(--muted); }
        ul.about { margin: .1rem 0 .5rem 1.6rem; padding: 0; color: #3b4554; font-size: .92rem; } ul.owners { margin: 0; padding-left: 1.1rem; }
        p.introduced { margin: .1rem 0 .4rem 1.6rem; font-size: .9rem; } td.brings code { white-space: nowrap; }
        figure.flow { margin: .6rem 0; overflow-x: auto; } figure.flow figcaption { color: var(--muted); font-size: .9rem; }
        svg.flow-picture { max-width: 100%; height: auto; }
        @page { size: A4; margin: 16mm 14mm 18mm; @bottom-right { content: "page " counter(page) " of " counter(pages); font-size: 9pt; } }
        @media print {
          body { background: #fff; font-size: 10.5pt; }
          header.top, .skip, footer, #sign, #sign-note, .filters, #verify form, .flash:not(#rehearsal) { display: none !important; }
          main { max-width: none; padding: 0; }
          .card { border: 1px solid #999; break-inside: auto; }
          .card h2 { break-after: avoid; }
          tr, li, ul.about, p.introduced { break-inside: avoid; }
          #signatures { break-inside: avoid; }
          pre.diff { white-space: pre-wrap; overflow: visible; font-size: 8.5pt; }
          figure.flow { break-inside: avoid; overflow: visible; }
          a { color: inherit; text-decoration: none; }
          .print-only { display: block; }
          details > * { display: block; }
        }
        @media (max-width: 700px) { dl { grid-template-columns: 1fr; } dt { margin-top: .4rem; } table.list { font-size: .9rem; } .signout { margin-left: 0; } }
        """
}
