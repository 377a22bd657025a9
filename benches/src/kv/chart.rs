//! The kv scenario's chart: server CPU per request for each test, one
//! panel per (clients, pipeline) point, one line per server.

use std::io;
use std::path::{Path, PathBuf};

use plotters::prelude::*;

use super::peers::Peer;
use super::{Summary, CLIENTS, PIPELINES};

/// Draws `kv-cpu-per-request.svg`; returns its path.
pub(crate) fn draw(path: &Path, summary: &[Summary], peers: &[Peer], tests: &[&'static str]) -> io::Result<PathBuf> {
    let root = SVGBackend::new(path, (1200, 800)).into_drawing_area();
    root.fill(&WHITE).map_err(to_io)?;
    let points: Vec<(usize, usize)> = CLIENTS.iter().flat_map(|&c| PIPELINES.iter().map(move |&p| (c, p))).collect();
    for (area, &(clients, pipeline)) in root.split_evenly((2, 2)).iter().zip(&points) {
        let of_point: Vec<&Summary> =
            summary.iter().filter(|s| s.clients == clients && s.pipeline == pipeline).collect();
        let y_max = of_point.iter().map(|s| s.cpu_us_per_request).fold(0.0, f64::max).max(0.1) * 1.3;
        let mut chart = ChartBuilder::on(area)
            .caption(format!("{clients} clients, pipeline {pipeline}"), ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(30)
            .y_label_area_size(60)
            .build_cartesian_2d(-0.5..tests.len() as f64 - 0.5, 0.0..y_max)
            .map_err(to_io)?;
        chart
            .configure_mesh()
            .x_labels(tests.len())
            .x_label_formatter(&|x| {
                let index = x.round();
                if (x - index).abs() < 0.01 && index >= 0.0 {
                    tests.get(index as usize).copied().unwrap_or("").to_string()
                } else {
                    String::new()
                }
            })
            .y_desc("server µs CPU / request")
            .disable_x_mesh()
            .draw()
            .map_err(to_io)?;
        for (index, &peer) in peers.iter().enumerate() {
            let color = Palette99::pick(index).to_rgba();
            let values: Vec<(f64, f64)> = tests
                .iter()
                .enumerate()
                .filter_map(|(i, test)| {
                    of_point
                        .iter()
                        .find(|s| s.peer == peer && s.test == *test)
                        .map(|s| (i as f64, s.cpu_us_per_request))
                })
                .collect();
            chart
                .draw_series(LineSeries::new(values.iter().copied(), color.stroke_width(2)))
                .map_err(to_io)?
                .label(peer.name())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
            chart.draw_series(values.iter().map(|&point| Circle::new(point, 4, color.filled()))).map_err(to_io)?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(to_io)?;
    }
    root.present().map_err(to_io)?;
    Ok(path.to_path_buf())
}

fn to_io<E: std::error::Error + Send + Sync + 'static>(err: DrawingAreaErrorKind<E>) -> io::Error {
    io::Error::other(err.to_string())
}
