import HeyanDomain
import HeyanPresentation

/// The frame of every console page: language, title, who is signed in, the stylesheet (a
/// first-party file: the policy allows no inline style and no script).
enum ConsoleLayout {
    static func page(lang: ConsoleLanguage, title: String, department: Department?, body: HTML, refreshSeconds: Int? = nil,
        printView: Bool = false) -> HTML
    {
        let home = HTML.path(lang.link("/console/")) ?? .empty
        let signedIn: HTML = department.map { department in
            """
            <div class="who">\(lang.t("当前部门", "Signed in as")): <strong>\(lang.name(department.name))</strong> \
            <code>\(department.code)</code></div>
            """
        } ?? .empty
        let refresh: HTML = refreshSeconds.map { "<meta http-equiv=\"refresh\" content=\"\($0)\">" } ?? .empty
        let other = lang == .zh ? "English" : "中文"
        let header: HTML = printView ? .empty : """
            <header><a class="brand" href="\(home)">\(lang.t("核验 · 部门核验控制台", "heyan · clerks' console"))</a>\
            \(signedIn)<a class="lang" href="\(HTML.path(lang == .zh ? "/console/?lang=en" : "/console/?lang=zh") ?? .empty)">\(other)</a></header>
            """
        return """
            <!DOCTYPE html>
            <html lang="\(lang.tag)"><head><meta charset="utf-8">\
            <meta name="viewport" content="width=device-width, initial-scale=1">\(refresh)\
            <title>\(title) — heyan</title><link rel="stylesheet" href="/console/static/console.css"></head>\
            <body class="\(printView ? "print" : "screen")">\(header)<main><h1>\(title)</h1>
            \(body)</main></body></html>
            """
    }
}

/// The console's one stylesheet (served from `/console/static/console.css`).
enum ConsoleStyle {
    static let css = """
        body{font-family:"Noto Sans CJK SC","Source Han Sans SC","Microsoft YaHei",sans-serif;margin:0;color:#1a1a1a;background:#f6f7f9;font-size:15px}
        header{display:flex;gap:1.5em;align-items:center;background:#9b1c1c;color:#fff;padding:.6em 1.2em}
        header a{color:#fff;text-decoration:none}.brand{font-weight:bold}.who{flex:1}.who code{opacity:.8}
        main{max-width:1100px;margin:1em auto;padding:0 1.2em;background:#fff;padding:1em 1.5em 2em}
        h1{font-size:1.4em;border-bottom:2px solid #9b1c1c;padding-bottom:.3em}
        table{border-collapse:collapse;width:100%}th,td{border:1px solid #ccd;padding:.35em .5em;text-align:left;vertical-align:top}
        th{background:#eef0f4}tr.overdue td{background:#fde8e8}.badge{padding:0 .4em;border-radius:3px;background:#e5e7eb}
        .badge.overdue{background:#c81e1e;color:#fff}.badge.answered{background:#def7ec}.badge.pending{background:#fdf6b2}
        form.stack label{display:block;margin:.6em 0 .2em;font-weight:bold}input[type=text],select,textarea{width:28em;max-width:100%;padding:.3em;font-size:1em}
        .error{color:#c81e1e;margin-left:.5em}.problem{border-left:4px solid #c81e1e;background:#fdf2f2;padding:.5em 1em}
        button{background:#9b1c1c;color:#fff;border:0;padding:.45em 1.2em;font-size:1em;border-radius:3px;cursor:pointer}
        dl.facts{display:grid;grid-template-columns:10em 1fr;gap:.3em 1em}dl.facts dt{font-weight:bold;color:#444}
        pre{background:#f3f4f6;padding:.6em;overflow-x:auto;white-space:pre-wrap;word-break:break-all}
        ul.menu li{margin:.4em 0}.muted{color:#666}svg.qr{width:60mm;height:60mm}
        body.print{background:#fff}body.print main{margin:0;max-width:none}
        @media print{header,.noprint{display:none}main{margin:0;padding:0}body{background:#fff}}
        \(auditAndOperator)
        """
}
