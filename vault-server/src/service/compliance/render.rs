//! Renders a compliance report: JSON (the data), Markdown, or one
//! self-contained HTML page (inline CSS, charts as inline SVG drawn with
//! `plotters`, no script, no external asset) that prints well.

use maud::{DOCTYPE, Markup, PreEscaped, html};
use plotters::prelude::*;
use vault_core::clock::Timestamp;
use vault_core::compliance::{Chart, Report, Status};

use crate::service::{Error, Result};

/// A report's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `{"report": ..., "signature": ...}`.
    Json,
    /// Markdown with the signature in a trailing comment.
    Markdown,
    /// One HTML page with the signature in a trailing comment.
    Html,
}

impl Format {
    /// From `json`, `md` or `html`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "json" => Some(Format::Json),
            "md" | "markdown" => Some(Format::Markdown),
            "html" => Some(Format::Html),
            _ => None,
        }
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Markdown => "md",
            Format::Html => "html",
        }
    }

    /// The media type.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Markdown => "text/markdown; charset=utf-8",
            Format::Html => "text/html; charset=utf-8",
        }
    }
}

/// How the signature is attached.
pub enum Wrap {
    /// Beside the report in a JSON object (the content is the compact JSON
    /// of this value).
    Json(serde_json::Value),
    /// After the content, in a comment line.
    Trailer,
}

/// The content to sign, and how to attach the signature.
pub fn render(r: &Report, format: Format) -> Result<(Vec<u8>, Wrap)> {
    Ok(match format {
        Format::Json => {
            let value = serde_json::to_value(r).map_err(Error::internal)?;
            let content = serde_json::to_vec(&value).map_err(Error::internal)?;
            (content, Wrap::Json(value))
        }
        Format::Markdown => (markdown(r).into_bytes(), Wrap::Trailer),
        Format::Html => (html_page(r).into_string().into_bytes(), Wrap::Trailer),
    })
}

fn period(r: &Report) -> String {
    format!("{} to {}", r.from.to_rfc3339(), r.to.to_rfc3339())
}

fn markdown(r: &Report) -> String {
    let mut out = format!(
        "# HIPAA Security Rule compliance report\n\n\
         Period: {}  \nGenerated: {} by {} (vault {})  \nAudit records in the period: {}\n\n\
         | Safeguard | Status |\n|---|---|\n",
        period(r),
        r.generated_at.to_rfc3339(),
        r.generated_by,
        r.server_version,
        r.records_in_period
    );
    for l in &r.lines {
        out.push_str(&format!(
            "| {} {} | {} |\n",
            l.id,
            l.title,
            l.status.label()
        ));
    }
    out.push_str(&format!(
        "\n{} met, {} need attention, {} not met, {} not applicable.\n",
        r.summary.met, r.summary.needs_attention, r.summary.not_met, r.summary.not_applicable
    ));
    for l in &r.lines {
        out.push_str(&format!(
            "\n## {} {}: {}\n\n",
            l.id,
            l.title,
            l.status.label()
        ));
        for e in &l.evidence {
            out.push_str(&format!("- {}\n", md_escape(e)));
        }
        if !l.audit_seqs.is_empty() {
            out.push_str(&format!(
                "\nAudit records: {}\n",
                l.audit_seqs
                    .iter()
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    out
}

/// Evidence holds people's words (an emergency reason, a name): in
/// Markdown they stay text, never a link, an image or HTML.
fn md_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '(' | ')' | '!' | '<' | '>' | '|' | '#' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

const CSS: &str = "
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem auto;max-width:60rem;color:#1d2330;line-height:1.45;padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin:1.6rem 0 .4rem;border-bottom:1px solid #d5dae3;padding-bottom:.2rem}
.muted{color:#5b6475}table{border-collapse:collapse;width:100%;margin:.6rem 0}th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #e3e7ee;vertical-align:top}
.status{font-weight:600;white-space:nowrap;border-radius:4px;padding:.1rem .45rem}
.met{background:#e3f4e8;color:#1b6b36}.needs_attention{background:#fff3d6;color:#7a5200}.not_met{background:#fde2e1;color:#9b1c1c}.not_applicable{background:#eef0f4;color:#5b6475}
.charts{display:grid;grid-template-columns:1fr 1fr;gap:1rem}.chart{border:1px solid #e3e7ee;border-radius:6px;padding:.4rem}.chart svg{width:100%;height:auto}
.seqs{font-family:ui-monospace,monospace;font-size:.85rem;color:#5b6475}
@media print{body{margin:0;max-width:none}.charts{grid-template-columns:1fr 1fr}h2{break-after:avoid}section{break-inside:avoid}}
";

fn status_class(s: Status) -> &'static str {
    match s {
        Status::Met => "met",
        Status::NeedsAttention => "needs_attention",
        Status::NotMet => "not_met",
        Status::NotApplicable => "not_applicable",
    }
}

fn html_page(r: &Report) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "HIPAA compliance report · " (period(r)) }
                style { (PreEscaped(CSS)) }
            }
            body {
                h1 { "HIPAA Security Rule compliance report" }
                p.muted {
                    "Period " (period(r)) ". Generated " (r.generated_at.to_rfc3339()) " by "
                    (r.generated_by) " (vault " (r.server_version) "). "
                    (r.records_in_period) " audit records in the period. The file is signed with the "
                    "vault's audit key: check it with " code { "vault compliance verify FILE --public-key KEY" } "."
                }
                h2 { "Summary" }
                p {
                    (r.summary.met) " met · " (r.summary.needs_attention) " need attention · "
                    (r.summary.not_met) " not met · " (r.summary.not_applicable) " not applicable"
                }
                table {
                    thead { tr { th { "Safeguard (45 CFR)" } th { "Status" } } }
                    tbody {
                        @for l in &r.lines {
                            tr {
                                td { a href={ "#s-" (anchor(&l.id)) } { (l.id) } " " (l.title) }
                                td { span class={ "status " (status_class(l.status)) } { (l.status.label()) } }
                            }
                        }
                    }
                }
                h2 { "Charts" }
                div.charts {
                    @for c in &r.charts {
                        div.chart { (PreEscaped(chart_svg(c))) }
                    }
                }
                @for l in &r.lines {
                    section id={ "s-" (anchor(&l.id)) } {
                        h2 {
                            (l.id) " " (l.title) " "
                            span class={ "status " (status_class(l.status)) } { (l.status.label()) }
                        }
                        ul { @for e in &l.evidence { li { (e) } } }
                        @if !l.audit_seqs.is_empty() {
                            p.seqs {
                                "Audit records: "
                                (l.audit_seqs.iter().map(u64::to_string).collect::<Vec<_>>().join(", "))
                            }
                        }
                    }
                }
            }
        }
    }
}

fn anchor(id: &str) -> String {
    id.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

const COLORS: [RGBColor; 4] = [
    RGBColor(0x2f, 0x6f, 0xd0),
    RGBColor(0xd0, 0x4a, 0x3a),
    RGBColor(0x3a, 0x9a, 0x5b),
    RGBColor(0xc0, 0x8a, 0x1f),
];

/// A grouped bar chart of `c` as an SVG string (empty data: a note).
pub fn chart_svg(c: &Chart) -> String {
    let mut svg = String::new();
    let n = c.labels.len();
    let max = c
        .series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .fold(0.0_f64, f64::max);
    let drawn = (|| -> std::result::Result<(), String> {
        let root = SVGBackend::with_string(&mut svg, (560, 300)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let upper = if max > 0.0 { max * 1.15 } else { 1.0 };
        let right = if n == 0 { 1.0 } else { n as f64 - 0.5 };
        let mut chart = ChartBuilder::on(&root)
            .caption(&c.title, ("sans-serif", 16))
            .margin(8)
            .x_label_area_size(if n > 8 { 70 } else { 36 })
            .y_label_area_size(44)
            .build_cartesian_2d(-0.5_f64..right, 0.0_f64..upper)
            .map_err(|e| e.to_string())?;
        let labels = c.labels.clone();
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n.max(1))
            .x_label_formatter(&move |x: &f64| {
                let i = x.round();
                if (x - i).abs() < 1e-6 && i >= 0.0 {
                    labels
                        .get(i as usize)
                        .map(|l| l.chars().take(16).collect())
                        .unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .x_label_style(("sans-serif", 11))
            .y_label_style(("sans-serif", 11))
            .y_label_formatter(&|y: &f64| format!("{y:.0}"))
            .draw()
            .map_err(|e| e.to_string())?;
        let groups = c.series.len().max(1) as f64;
        let width = 0.8 / groups;
        for (si, s) in c.series.iter().enumerate() {
            let color = COLORS[si % COLORS.len()];
            let x0 = -0.4 + si as f64 * width;
            chart
                .draw_series(s.values.iter().enumerate().map(|(i, v)| {
                    let left = i as f64 + x0;
                    Rectangle::new([(left, 0.0), (left + width * 0.95, *v)], color.filled())
                }))
                .map_err(|e| e.to_string())?
                .label(s.name.clone())
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 10, y + 5)], color.filled())
                });
        }
        if c.series.len() > 1 {
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK.mix(0.3))
                .label_font(("sans-serif", 11))
                .position(SeriesLabelPosition::UpperRight)
                .draw()
                .map_err(|e| e.to_string())?;
        }
        root.present().map_err(|e| e.to_string())?;
        Ok(())
    })();
    match drawn {
        Ok(()) => svg,
        Err(e) => {
            tracing::warn!(chart = %c.id, error = %e, "chart not drawn");
            format!("<p>{}: no chart ({})</p>", c.title, "drawing failed")
        }
    }
}

/// The `notAfter` of the first certificate in `pem`.
pub fn cert_not_after(pem: &[u8]) -> Option<Timestamp> {
    let (_, p) = x509_parser::pem::parse_x509_pem(pem).ok()?;
    let cert = p.parse_x509().ok()?;
    let secs = cert.validity().not_after.timestamp();
    Some(Timestamp::from_millis(secs.saturating_mul(1000)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidence_stays_text_in_markdown() {
        let e = md_escape("reason: ![x](http://evil.example/p.png) <b>hi</b>\n# h");
        assert!(!e.contains("![x]("), "{e}");
        assert!(!e.contains("<b>"), "{e}");
        assert!(!e.contains('\n'));
        assert_eq!(md_escape("plain text, 3 reads"), "plain text, 3 reads");
    }
}
