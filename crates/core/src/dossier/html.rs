//! The dossier as one HTML page: the Markdown's content, with the Mermaid diagram rendered in the browser by the
//! mermaid script the caller gives (the CLI embeds the local npm package's `mermaid.min.js`, so viewing needs no
//! network).

use super::{markdown, Dossier, Lang};

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Inline Markdown of a table cell or line: `code` and **bold**.
fn inline(s: &str) -> String {
    let mut out = String::new();
    for (i, part) in escape(s).split('`').enumerate() {
        if i % 2 == 1 {
            out.push_str(&format!("<code>{part}</code>"));
        } else {
            let mut bold = false;
            for (j, b) in part.split("**").enumerate() {
                if j > 0 {
                    out.push_str(if bold { "</strong>" } else { "<strong>" });
                    bold = !bold;
                }
                out.push_str(b);
            }
            if bold {
                out.push_str("</strong>");
            }
        }
    }
    out
}

fn cells(line: &str) -> Vec<String> {
    let inner = line.trim().trim_start_matches('|').trim_end_matches('|');
    let mut cells = Vec::new();
    let mut cur = String::new();
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                cur.push('|');
                chars.next();
            }
            '|' => cells.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    cells.push(cur);
    cells.into_iter().map(|c| c.trim().to_string()).collect()
}

/// The page; `mermaid_js` is the mermaid library's source, inlined.
pub fn render(d: &Dossier, lang: Lang, mermaid_js: &str) -> String {
    let md = markdown::render(d, lang);
    let mut body = String::new();
    let mut lines = md.lines().peekable();
    let mut in_list = false;
    while let Some(line) = lines.next() {
        if in_list && !line.starts_with("- ") {
            body.push_str("</ul>\n");
            in_list = false;
        }
        if line.starts_with("```mermaid") {
            let mut src = String::new();
            for l in lines.by_ref() {
                if l.starts_with("```") {
                    break;
                }
                src.push_str(l);
                src.push('\n');
            }
            body.push_str(&format!(
                "<pre class=\"mermaid\">\n{}</pre>\n",
                escape(&src)
            ));
        } else if let Some(h) = line.strip_prefix('#') {
            let level = 1 + h.chars().take_while(|c| *c == '#').count();
            let text = h.trim_start_matches('#').trim();
            body.push_str(&format!("<h{level}>{}</h{level}>\n", inline(text)));
        } else if line.starts_with('|') {
            let mut rows = vec![cells(line)];
            while lines.peek().is_some_and(|l| l.starts_with('|')) {
                let l = lines.next().unwrap_or_default();
                if !l.contains("---") {
                    rows.push(cells(l));
                }
            }
            body.push_str("<table>\n");
            for (i, r) in rows.iter().enumerate() {
                let tag = if i == 0 { "th" } else { "td" };
                body.push_str("<tr>");
                for c in r {
                    body.push_str(&format!("<{tag}>{}</{tag}>", inline(c)));
                }
                body.push_str("</tr>\n");
            }
            body.push_str("</table>\n");
        } else if let Some(item) = line.strip_prefix("- ") {
            if !in_list {
                body.push_str("<ul>\n");
                in_list = true;
            }
            body.push_str(&format!("<li>{}</li>\n", inline(item)));
        } else if let Some(q) = line.strip_prefix("> ") {
            body.push_str(&format!("<blockquote>{}</blockquote>\n", inline(q)));
        } else if !line.trim().is_empty() {
            body.push_str(&format!("<p>{}</p>\n", inline(line)));
        }
    }
    if in_list {
        body.push_str("</ul>\n");
    }
    let title = escape(&format!(
        "{} {}",
        lang.t("Dossier technique", "Technical dossier"),
        d.product
    ));
    format!(
        "<!DOCTYPE html>\n<html lang=\"{}\">\n<head>\n<meta charset=\"utf-8\">\n<title>{title}</title>\n<style>\n\
body {{ font-family: sans-serif; margin: 2em; max-width: 80em; }}\n\
table {{ border-collapse: collapse; margin: 1em 0; }}\n\
td, th {{ border: 1px solid #bbb; padding: 0.2em 0.5em; text-align: left; vertical-align: top; }}\n\
code {{ font-size: 0.9em; }}\n\
</style>\n</head>\n<body>\n{body}<script>\n{}\n</script>\n<script>\n\
mermaid.initialize({{ startOnLoad: false, securityLevel: 'strict' }});\n\
mermaid.run({{ querySelector: 'pre.mermaid' }}).then(\n\
  () => document.body.setAttribute('data-mermaid', 'rendered'),\n\
  (e) => {{ document.body.setAttribute('data-mermaid', 'error'); document.body.setAttribute('data-mermaid-error', String(e)); }});\n\
</script>\n</body>\n</html>\n",
        match lang {
            Lang::Fr => "fr",
            Lang::En => "en",
        },
        mermaid_js.replace("</script", "<\\/script")
    )
}
