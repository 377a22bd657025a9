//! SVG charts of the medians: throughput, CPU per message and latency
//! percentiles against connection count, one set per load shape.

use std::io;
use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::plan::Mode;
use crate::results::Summary;
use crate::servers::Server;

/// One line: a server's figure at each connection count.
type Series = (Server, Vec<(f64, f64)>);

/// Draws every chart into `dir`; returns the files written.
pub(crate) fn draw_all(dir: &Path, summaries: &[Summary], servers: &[Server]) -> io::Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for mode in Mode::ALL {
        if !summaries.iter().any(|s| s.point.mode == mode) {
            continue;
        }
        let series = |figure: &dyn Fn(&Summary) -> f64| -> Vec<Series> {
            servers
                .iter()
                .map(|&server| {
                    let points = summaries
                        .iter()
                        .filter(|s| s.point.server == server && s.point.mode == mode)
                        .map(|s| (s.point.connections as f64, figure(s)))
                        .collect();
                    (server, points)
                })
                .collect()
        };
        let path = dir.join(format!("throughput-{}.svg", mode.name()));
        single(&path, &format!("Throughput, {}", mode.name()), "messages/s", &series(&|s| s.throughput))?;
        written.push(path);
        let path = dir.join(format!("cpu-per-message-{}.svg", mode.name()));
        single(
            &path,
            &format!("Server CPU per message, {}", mode.name()),
            "µs CPU/message",
            &series(&|s| s.cpu_us_per_message),
        )?;
        written.push(path);
        let path = dir.join(format!("latency-{}.svg", mode.name()));
        {
            let percentiles = [("p50", 0), ("p99", 1), ("p99.9", 2)];
            let root = SVGBackend::new(&path, (1500, 500)).into_drawing_area();
            root.fill(&WHITE).map_err(to_io)?;
            for (area, (name, index)) in root.split_evenly((1, 3)).iter().zip(percentiles) {
                let title = format!("Latency {name}, {}", mode.name());
                // Latency rises with connections: the legend goes where it is low.
                let series = series(&|s| s.latency_us[index]);
                plot(area, &title, "µs round trip", &series, SeriesLabelPosition::UpperLeft)?;
            }
            root.present().map_err(to_io)?;
        }
        written.push(path);
    }
    Ok(written)
}

fn single(path: &Path, title: &str, y_label: &str, series: &[Series]) -> io::Result<()> {
    let root = SVGBackend::new(path, (800, 500)).into_drawing_area();
    root.fill(&WHITE).map_err(to_io)?;
    plot(&root, title, y_label, series, SeriesLabelPosition::UpperRight)?;
    root.present().map_err(to_io)
}

/// One log-log chart: connections across, the figure up.
fn plot(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    title: &str,
    y_label: &str,
    series: &[Series],
    legend: SeriesLabelPosition,
) -> io::Result<()> {
    let all = || series.iter().flat_map(|(_, points)| points.iter().copied());
    let x_max = all().map(|(x, _)| x).fold(1.0, f64::max);
    let (y_min, y_max) =
        all().map(|(_, y)| y).filter(|y| *y > 0.0).fold((f64::INFINITY, 0.0f64), |(lo, hi), y| (lo.min(y), hi.max(y)));
    // Headroom above the highest point keeps the legend off the data.
    let (y_min, y_max) = if y_max > 0.0 { (y_min / 1.5, y_max * 4.0) } else { (0.1, 1.0) };
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(
            (0.8..x_max * 1.25).log_scale().with_key_points(decades(1.0, x_max)),
            (y_min..y_max).log_scale().with_key_points(one_two_five(y_min, y_max)),
        )
        .map_err(to_io)?;
    chart
        .configure_mesh()
        .x_desc("connections")
        .y_desc(y_label)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format_si(*y))
        .draw()
        .map_err(to_io)?;
    for (index, (server, points)) in series.iter().enumerate() {
        let points: Vec<(f64, f64)> = points.iter().copied().filter(|(_, y)| *y > 0.0).collect();
        let color = Palette99::pick(index).to_rgba();
        chart
            .draw_series(LineSeries::new(points.iter().copied(), color.stroke_width(2)))
            .map_err(to_io)?
            .label(server.name())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
        chart.draw_series(points.iter().map(|&point| Circle::new(point, 3, color.filled()))).map_err(to_io)?;
    }
    chart
        .configure_series_labels()
        .position(legend)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(to_io)?;
    Ok(())
}

/// 1, 10, 100, ... up to `max`: the connection counts' axis.
fn decades(min: f64, max: f64) -> Vec<f64> {
    std::iter::successors(Some(min), |x| Some(x * 10.0)).take_while(|x| *x <= max * 1.0001).collect()
}

/// 1, 2, 5, 10, 20, 50, ... within `min..max`: a log axis with enough labels
/// to read a value off it.
fn one_two_five(min: f64, max: f64) -> Vec<f64> {
    let mut decade = 10f64.powf(min.log10().floor());
    let mut points = Vec::new();
    while decade <= max {
        points.extend([1.0, 2.0, 5.0].iter().map(|m| m * decade).filter(|p| (min..=max).contains(p)));
        decade *= 10.0;
    }
    points
}

/// 1234567 -> "1.2M", 500000 -> "500k": axis labels stay short.
fn format_si(value: f64) -> String {
    let (scaled, suffix) = match value {
        v if v >= 1e6 => (v / 1e6, "M"),
        v if v >= 1e3 => (v / 1e3, "k"),
        v => (v, ""),
    };
    let digits = if scaled >= 10.0 || scaled.fract().abs() < 1e-9 { 0 } else { 1 };
    format!("{scaled:.digits$}{suffix}")
}

fn to_io<E: std::error::Error + Send + Sync + 'static>(err: DrawingAreaErrorKind<E>) -> io::Error {
    io::Error::other(err.to_string())
}
