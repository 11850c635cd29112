//! Trend charts on the Measures tab: PHQ-9 and GAD-7 totals and the BAM subscales over the latest
//! episode, drawn to SVG by `plotters` on the server (the CSP allows no scripts), with the
//! published band thresholds or cut-offs as dashed lines and the plotted values as a table.

use askama::Template;
use chrono::{Duration, NaiveDate};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use trellis_domain::measures::{bam, Instrument};
use trellis_storage::measures::Measure;

use crate::error::AppError;

/// Size of a chart in SVG user units (it scales to the page width).
const SIZE: (u32, u32) = (640, 240);
/// Colours of the plotted series, in order (blue, red, green: distinct for common colour blindness
/// once paired with the legend and the table).
const SERIES_COLOURS: [RGBColor; 3] = [
    RGBColor(29, 78, 216),
    RGBColor(190, 18, 60),
    RGBColor(21, 128, 61),
];
/// Colour of threshold lines and their labels.
const THRESHOLD: RGBColor = RGBColor(146, 64, 14);

/// One line on a chart: a total or a subscale, by day.
struct Series {
    label: &'static str,
    points: Vec<(NaiveDate, u16)>,
}

/// A horizontal line marking a band threshold or a cut-off.
struct Threshold {
    value: u16,
    label: String,
}

/// One row of the table under a chart.
pub struct TrendRow {
    day: String,
    values: Vec<String>,
}

/// A chart ready for the page: the SVG markup and the same figures as a table.
#[derive(Template)]
#[template(path = "trend.html")]
pub struct TrendChart {
    title: String,
    svg: String,
    caption: &'static str,
    columns: Vec<&'static str>,
    rows: Vec<TrendRow>,
}

/// Trend charts for the instruments followed over an episode, each with at least two points.
pub fn trend_charts(measures: &[Measure]) -> Result<Vec<String>, AppError> {
    let episode = measures.last().and_then(|m| m.episode_id);
    let in_episode = |instrument: Instrument| {
        measures
            .iter()
            .filter(move |m| m.instrument == instrument && m.episode_id == episode)
    };
    let total = |instrument: Instrument| Series {
        label: instrument.name(),
        points: in_episode(instrument)
            .filter_map(|m| m.total.map(|t| (m.administered_on.0, t)))
            .collect(),
    };
    let subscale = |label: &'static str, key: &'static str| Series {
        label,
        points: in_episode(Instrument::Bam)
            .filter_map(|m| m.subscales.get(key).map(|v| (m.administered_on.0, *v)))
            .collect(),
    };

    let mut charts = Vec::new();
    for instrument in [Instrument::Phq9, Instrument::Gad7] {
        let Some(max) = instrument.max_total() else {
            continue;
        };
        let thresholds = band_thresholds(instrument)
            .iter()
            .map(|(value, band)| Threshold {
                value: *value,
                label: format!("{value} {band}"),
            })
            .collect();
        charts.push(chart(
            format!("{} total over the episode", instrument.name()),
            "Dashed lines mark the lower bound of each severity band.",
            vec![total(instrument)],
            thresholds,
            max,
        )?);
    }
    charts.push(chart(
        "BAM subscales over the episode".to_owned(),
        "Dashed lines mark the cut-offs: Use at or above 1 and Risk at or above 12 are \
         concerning; Protective at or below 12 is concerning.",
        vec![
            subscale("Use", "use"),
            subscale("Risk", "risk"),
            subscale("Protective", "protective"),
        ],
        vec![
            Threshold {
                value: bam::USE_CUTOFF,
                label: format!("Use ≥ {}", bam::USE_CUTOFF),
            },
            Threshold {
                value: bam::RISK_CUTOFF,
                label: format!(
                    "Risk ≥ {} · Protective ≤ {}",
                    bam::RISK_CUTOFF,
                    bam::PROTECTIVE_CUTOFF
                ),
            },
        ],
        24,
    )?);
    Ok(charts.into_iter().flatten().collect())
}

/// The lower bound of each published severity band worth drawing.
fn band_thresholds(instrument: Instrument) -> &'static [(u16, &'static str)] {
    match instrument {
        Instrument::Phq9 => &[
            (5, "mild"),
            (10, "moderate"),
            (15, "moderately severe"),
            (20, "severe"),
        ],
        Instrument::Gad7 => &[(5, "mild"), (10, "moderate"), (15, "severe")],
        _ => &[],
    }
}

/// Draws one chart, or `None` when no series has two points to join.
fn chart(
    title: String,
    caption: &'static str,
    series: Vec<Series>,
    thresholds: Vec<Threshold>,
    max: u16,
) -> Result<Option<String>, AppError> {
    let series: Vec<Series> = series
        .into_iter()
        .filter(|s| !s.points.is_empty())
        .collect();
    if series.iter().all(|s| s.points.len() < 2) {
        return Ok(None);
    }
    let days = series.iter().flat_map(|s| s.points.iter().map(|(d, _)| *d));
    let (Some(first), Some(last)) = (days.clone().min(), days.max()) else {
        return Ok(None);
    };
    let svg = draw(&series, &thresholds, first, last, max)
        .map_err(|e| AppError::Internal(format!("drawing a trend chart failed: {e}")))?;
    let chart = TrendChart {
        title,
        svg,
        caption,
        columns: series.iter().map(|s| s.label).collect(),
        rows: table_rows(&series),
    };
    Ok(Some(chart.render()?))
}

/// The SVG markup of a chart whose x axis runs in days from `first` to `last`.
fn draw(
    series: &[Series],
    thresholds: &[Threshold],
    first: NaiveDate,
    last: NaiveDate,
    max: u16,
) -> Result<String, Box<dyn std::error::Error>> {
    let span = (last - first).num_days().max(1);
    let x_of = |d: NaiveDate| (d - first).num_days();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            // Room for the last day's label at the right edge.
            .margin_right(28)
            .x_label_area_size(24)
            .y_label_area_size(32)
            .build_cartesian_2d(0i64..span, 0i32..i32::from(max))?;
        let label_day = |x: &i64| (first + Duration::days(*x)).format("%b %-d").to_string();
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(6)
            .x_label_formatter(&label_day)
            .y_labels(5)
            .light_line_style(RGBColor(241, 245, 249))
            .label_style(("sans-serif", 13))
            .draw()?;
        for t in thresholds {
            let y = i32::from(t.value);
            chart.draw_series(DashedLineSeries::new(
                [(0, y), (span, y)],
                5,
                4,
                THRESHOLD.stroke_width(1),
            ))?;
            chart.draw_series(std::iter::once(Text::new(
                t.label.clone(),
                (span, y),
                ("sans-serif", 13)
                    .into_font()
                    .color(&THRESHOLD)
                    .pos(Pos::new(HPos::Right, VPos::Bottom)),
            )))?;
        }
        for (s, colour) in series.iter().zip(SERIES_COLOURS) {
            let points: Vec<(i64, i32)> = s
                .points
                .iter()
                .map(|(d, v)| (x_of(*d), i32::from(*v)))
                .collect();
            chart
                .draw_series(LineSeries::new(points.clone(), colour.stroke_width(2)))?
                .label(s.label)
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 16, y)], colour.stroke_width(2))
                });
            chart.draw_series(
                points
                    .into_iter()
                    .map(|p| Circle::new(p, 4, colour.filled())),
            )?;
        }
        if series.len() > 1 {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperLeft)
                .label_font(("sans-serif", 13))
                .background_style(WHITE.mix(0.85))
                .border_style(RGBColor(203, 213, 225))
                .draw()?;
        }
        root.present()?;
    }
    Ok(svg)
}

/// The plotted figures by day, one column per series ("–" where a series has no value that day).
fn table_rows(series: &[Series]) -> Vec<TrendRow> {
    let mut days: Vec<NaiveDate> = series
        .iter()
        .flat_map(|s| s.points.iter().map(|(d, _)| *d))
        .collect();
    days.sort_unstable();
    days.dedup();
    days.into_iter()
        .map(|day| TrendRow {
            day: day.format("%b %-d, %Y").to_string(),
            values: series
                .iter()
                .map(|s| {
                    s.points
                        .iter()
                        .rev()
                        .find(|(d, _)| *d == day)
                        .map_or_else(|| "–".to_owned(), |(_, v)| v.to_string())
                })
                .collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, d).expect("valid day")
    }

    #[test]
    fn draws_points_thresholds_and_labels_without_scripts() {
        let svg = draw(
            &[Series {
                label: "PHQ-9",
                points: vec![(day(2), 18), (day(16), 11), (day(27), 6)],
            }],
            &[Threshold {
                value: 10,
                label: "10 moderate".to_owned(),
            }],
            day(2),
            day(27),
            27,
        )
        .expect("draws");
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(svg.contains("viewBox"), "scales to the page");
        assert_eq!(
            svg.matches("<circle").count(),
            3,
            "one marker per administration"
        );
        assert!(svg.contains("10 moderate"), "threshold labelled");
        assert!(svg.contains("Nov 2"), "days on the x axis");
        assert!(
            !svg.contains("<script") && !svg.contains("style="),
            "CSP-safe markup"
        );
    }

    #[test]
    fn a_single_administration_draws_no_chart() {
        let chart = chart(
            "PHQ-9".to_owned(),
            "",
            vec![Series {
                label: "PHQ-9",
                points: vec![(day(2), 18)],
            }],
            Vec::new(),
            27,
        )
        .expect("no error");
        assert!(chart.is_none());
    }

    #[test]
    fn table_lists_each_day_once_with_a_gap_marker() {
        let rows = table_rows(&[
            Series {
                label: "Use",
                points: vec![(day(2), 3), (day(9), 1)],
            },
            Series {
                label: "Risk",
                points: vec![(day(9), 14)],
            },
        ]);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].values, vec!["3", "–"]);
        assert_eq!(rows[1].values, vec!["1", "14"]);
    }
}
