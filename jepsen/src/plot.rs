//! Pictures of a run, written next to its history as SVG: `latency.svg` (every completed
//! operation's latency over time), `throughput.svg` (completions per second by outcome) and
//! `writers.svg` (each writer's XADDs: present in the final log, lost, unknown, failed).
//! The first two shade the fault windows read from the nemesis log.
//!
//! Text is written as SVG `<text>` with a generic font family; plotters only estimates its
//! size (no font files, no system libraries).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use plotters::coord::ranged1d::SegmentValue;
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::history::{pair, read_jsonl, Record, Type, Value};

pub const LATENCY_SVG: &str = "latency.svg";
pub const THROUGHPUT_SVG: &str = "throughput.svg";
pub const WRITERS_SVG: &str = "writers.svg";

/// At most this many writers get a bar; the rest are left out (the title says so).
const MAX_WRITERS: usize = 48;
const FONT: &str = "sans-serif";
const LEGEND_WIDTH: u32 = 200;
const UNCHECKED: &str = "ok, key has no final read";

// ---------------------------------------------------------------------------------------
// Fault windows
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FaultKind {
    /// `kill ...` until `restarted ...`.
    Kill,
    /// `SIGSTOP ...` until `SIGCONT ...`.
    Pause,
    /// `partition ...` until `heal partition`.
    Partition,
    /// `packet loss ...` until `loss off`.
    Loss,
    /// `clock jump ...` until `clock reset`.
    Clock,
}

impl FaultKind {
    const ALL: [FaultKind; 5] = [
        FaultKind::Kill,
        FaultKind::Pause,
        FaultKind::Partition,
        FaultKind::Loss,
        FaultKind::Clock,
    ];

    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Kill => "kill",
            FaultKind::Pause => "pause",
            FaultKind::Partition => "partition",
            FaultKind::Loss => "packet loss",
            FaultKind::Clock => "clock",
        }
    }

    fn color(self) -> RGBColor {
        match self {
            FaultKind::Kill => RGBColor(120, 120, 120),
            FaultKind::Pause => RGBColor(148, 103, 189),
            FaultKind::Partition => RGBColor(31, 119, 180),
            FaultKind::Loss => RGBColor(140, 86, 75),
            FaultKind::Clock => RGBColor(23, 190, 207),
        }
    }
}

/// A fault from its start line to its end line, in seconds on the history's clock; `end`
/// `None`: the log never ended it (it lasts until the end of the run).
#[derive(Debug, Clone, PartialEq)]
pub struct FaultWindow {
    pub kind: FaultKind,
    pub start: f64,
    pub end: Option<f64>,
    /// The start line's text.
    pub label: String,
}

#[derive(Debug, PartialEq)]
enum Event {
    Start(FaultKind),
    End(FaultKind),
    /// A general heal: ends every open fault.
    EndAll,
}

fn classify(text: &str) -> Option<Event> {
    let t = text.trim().to_ascii_lowercase();
    let word = |w: &str| {
        t.split(|c: char| !c.is_ascii_alphanumeric())
            .any(|x| x == w)
    };
    // Ends first: "heal partition" and "loss off" also name their fault.
    if t.starts_with("restart") {
        return Some(Event::End(FaultKind::Kill));
    }
    if t.starts_with("sigcont") {
        return Some(Event::End(FaultKind::Pause));
    }
    if t.starts_with("heal") {
        return Some(if word("partition") || word("partitions") {
            Event::End(FaultKind::Partition)
        } else {
            Event::EndAll
        });
    }
    if word("loss") && word("off") {
        return Some(Event::End(FaultKind::Loss));
    }
    if word("clock") && word("reset") {
        return Some(Event::End(FaultKind::Clock));
    }
    // "clock left skewed: node 2": a note that a fault goes on, not a new one.
    if word("left") {
        return None;
    }
    if t.starts_with("kill") {
        return Some(Event::Start(FaultKind::Kill));
    }
    if t.starts_with("sigstop") {
        return Some(Event::Start(FaultKind::Pause));
    }
    if t.starts_with("partition") {
        return Some(Event::Start(FaultKind::Partition));
    }
    if t.starts_with("packet loss") || t.starts_with("loss") {
        return Some(Event::Start(FaultKind::Loss));
    }
    if t.starts_with("clock") {
        return Some(Event::Start(FaultKind::Clock));
    }
    None
}

/// What a fault line is about, to pair `SIGCONT node 2` with `SIGSTOP node 2 (...)` when
/// several faults of one kind overlap: a bracketed list, else the number after `node(s)`,
/// else "every"/"all".
fn target(text: &str) -> Option<String> {
    let t = text.to_ascii_lowercase();
    if let (Some(a), Some(b)) = (t.find('['), t.find(']')) {
        if a < b {
            let mut nums: Vec<&str> = t[a + 1..b]
                .split(|c: char| !c.is_ascii_digit())
                .filter(|s| !s.is_empty())
                .collect();
            nums.sort_unstable();
            return Some(nums.join(","));
        }
    }
    let words: Vec<&str> = t.split_whitespace().collect();
    for w in words.windows(2) {
        if w[0] == "node" || w[0] == "nodes" {
            let n: String = w[1].chars().take_while(|c| c.is_ascii_digit()).collect();
            if !n.is_empty() {
                return Some(n);
            }
        }
    }
    if words.iter().any(|w| *w == "every" || *w == "all") {
        return Some("all".into());
    }
    None
}

/// Parses a nemesis log (`<seconds> <text>` lines) into fault windows, ordered by start.
/// Lines that do not parse or name no fault are ignored, and so is an end with no open fault
/// of its kind. An end closes the open fault of its kind with the same target, else the
/// oldest open one of its kind.
pub fn parse_fault_windows(log: &str) -> Vec<FaultWindow> {
    let mut windows: Vec<FaultWindow> = Vec::new();
    // Indexes into `windows` of the faults still open, oldest first, with their targets.
    let mut open: Vec<(usize, Option<String>)> = Vec::new();
    for line in log.lines() {
        let line = line.trim();
        let Some((t, text)) = line.split_once(char::is_whitespace) else {
            continue;
        };
        let Ok(at) = t.parse::<f64>() else {
            continue;
        };
        if !at.is_finite() {
            continue;
        }
        let text = text.trim();
        match classify(text) {
            Some(Event::Start(kind)) => {
                open.push((windows.len(), target(text)));
                windows.push(FaultWindow {
                    kind,
                    start: at,
                    end: None,
                    label: text.to_string(),
                });
            }
            Some(Event::End(kind)) => {
                let tgt = target(text);
                let of_kind = |&(i, _): &(usize, Option<String>)| windows[i].kind == kind;
                let pos = open
                    .iter()
                    .position(|o| of_kind(o) && tgt.is_some() && o.1 == tgt)
                    .or_else(|| open.iter().position(of_kind));
                if let Some(p) = pos {
                    let (i, _) = open.remove(p);
                    windows[i].end = Some(at.max(windows[i].start));
                }
            }
            Some(Event::EndAll) => {
                for (i, _) in open.drain(..) {
                    windows[i].end = Some(at.max(windows[i].start));
                }
            }
            None => {}
        }
    }
    windows.sort_by(|a, b| a.start.total_cmp(&b.start));
    windows
}

/// The last time the nemesis log mentions, in seconds.
fn log_end(log: &str) -> f64 {
    log.lines()
        .filter_map(|l| l.split_whitespace().next()?.parse::<f64>().ok())
        .filter(|t| t.is_finite())
        .fold(0.0, f64::max)
}

// ---------------------------------------------------------------------------------------
// Entry points
// ---------------------------------------------------------------------------------------

/// Reads `run_dir/history.jsonl` and `run_dir/nemesis.log` (absent: no fault windows) and
/// plots them with [`plot_run`].
pub fn plot_stored(run_dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let file = std::fs::File::open(run_dir.join("history.jsonl"))
        .map_err(|e| anyhow::anyhow!("{}: {e}", run_dir.join("history.jsonl").display()))?;
    let history = read_jsonl(std::io::BufReader::new(file))?;
    let nemesis = match std::fs::read_to_string(run_dir.join("nemesis.log")) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e.into()),
    };
    plot_run(run_dir, &history, &nemesis)
}

/// Writes `latency.svg`, `throughput.svg` and `writers.svg` into `run_dir`; returns their
/// paths.
pub fn plot_run(
    run_dir: &Path,
    history: &[Record],
    nemesis_log: &str,
) -> anyhow::Result<Vec<PathBuf>> {
    let windows = parse_fault_windows(nemesis_log);
    let history_end = history.iter().map(|r| r.time_ns).max().unwrap_or(0) as f64 / 1e9;
    let end = history_end.max(log_end(nemesis_log)).max(1.0);
    let spans: Vec<Span> = windows
        .iter()
        .filter_map(|w| {
            let (a, b) = (w.start.max(0.0), w.end.unwrap_or(end).min(end));
            (a <= end).then(|| Span {
                kind: w.kind,
                start: a,
                end: b.max(a),
                label: shorten(&w.label, 40),
                open: w.end.is_none(),
            })
        })
        .collect();

    let (ops, _) = pair(history);
    let done: Vec<Done> = ops
        .iter()
        .filter_map(|op| {
            let c = op.complete?;
            Some(Done {
                class: Class::of(&op.invoke.f),
                outcome: c.kind,
                invoked: op.invoke.time_ns as f64 / 1e9,
                completed: c.time_ns as f64 / 1e9,
                latency_ms: c.time_ns.saturating_sub(op.invoke.time_ns) as f64 / 1e6,
            })
        })
        .collect();

    let out = vec![
        run_dir.join(LATENCY_SVG),
        run_dir.join(THROUGHPUT_SVG),
        run_dir.join(WRITERS_SVG),
    ];
    latency(&out[0], &done, &spans, end)?;
    throughput(&out[1], &done, &spans, end)?;
    writers(&out[2], history)?;
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// Shared pieces
// ---------------------------------------------------------------------------------------

struct Span {
    kind: FaultKind,
    start: f64,
    end: f64,
    label: String,
    open: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Class {
    Write,
    Read,
    Group,
}

impl Class {
    fn of(f: &str) -> Class {
        match f {
            "xadd" => Class::Write,
            "xrange" | "xread" | "final" | "read" => Class::Read,
            _ => Class::Group,
        }
    }
    fn name(self) -> &'static str {
        match self {
            Class::Write => "xadd",
            Class::Read => "reads",
            Class::Group => "group ops",
        }
    }
}

struct Done {
    class: Class,
    outcome: Type,
    invoked: f64,
    completed: f64,
    latency_ms: f64,
}

const OUTCOMES: [Type; 3] = [Type::Ok, Type::Fail, Type::Info];

fn outcome_color(t: Type) -> RGBColor {
    match t {
        Type::Ok => RGBColor(44, 160, 44),
        Type::Fail => RGBColor(214, 39, 40),
        _ => RGBColor(255, 127, 14),
    }
}

fn outcome_name(t: Type) -> &'static str {
    match t {
        Type::Ok => "ok",
        Type::Fail => "fail",
        Type::Info => "info (unknown)",
        Type::Invoke => "invoke",
    }
}

fn shorten(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

enum Glyph {
    Marker(Class, RGBColor),
    Line(RGBColor),
    Swatch(RGBAColor),
}

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

/// Draws a legend down the strip `area`.
fn legend(area: &Area<'_>, entries: &[(String, Glyph)]) -> anyhow::Result<()> {
    let font = (FONT, 14).into_font().color(&BLACK);
    let mut y = 40;
    area.draw(&Text::new(
        "legend",
        (10, y - 22),
        (FONT, 15).into_font().color(&BLACK),
    ))?;
    for (label, glyph) in entries {
        let (x, c) = (18, (18, y));
        match glyph {
            Glyph::Marker(class, color) => marker(area, *class, c, color.filled())?,
            Glyph::Line(color) => {
                area.draw(&PathElement::new(
                    vec![(x - 10, y), (x + 10, y)],
                    color.stroke_width(2),
                ))?;
            }
            Glyph::Swatch(color) => {
                area.draw(&Rectangle::new(
                    [(x - 10, y - 6), (x + 10, y + 6)],
                    color.filled(),
                ))?;
                area.draw(&Rectangle::new(
                    [(x - 10, y - 6), (x + 10, y + 6)],
                    RGBColor(150, 150, 150).stroke_width(1),
                ))?;
            }
        }
        area.draw(&Text::new(label.clone(), (x + 18, y - 7), font.clone()))?;
        y += 22;
    }
    Ok(())
}

fn marker(area: &Area<'_>, class: Class, at: (i32, i32), style: ShapeStyle) -> anyhow::Result<()> {
    match class {
        Class::Write => area.draw(&Circle::new(at, 3, style))?,
        Class::Read => area.draw(&TriangleMarker::new(at, 5, style))?,
        Class::Group => area.draw(&Cross::new(at, 4, style.stroke_width(2)))?,
    }
    Ok(())
}

/// Shades the fault windows between `y_lo` and `y_hi`, one legend-labelled series per kind.
fn shade<'a, Y>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, Cartesian2d<RangedCoordf64, Y>>,
    spans: &[Span],
    y_lo: f64,
    y_hi: f64,
) -> anyhow::Result<()>
where
    Y: Ranged<ValueType = f64>,
{
    for kind in FaultKind::ALL {
        let fill = kind.color().mix(0.18).filled();
        chart.draw_series(
            spans
                .iter()
                .filter(|s| s.kind == kind)
                .map(|s| Rectangle::new([(s.start, y_lo), (s.end, y_hi)], fill)),
        )?;
    }
    Ok(())
}

/// Labels the fault windows at the top of the plot, staggered over three rows.
fn label_windows<'a, Y>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, Cartesian2d<RangedCoordf64, Y>>,
    spans: &[Span],
    x_end: f64,
    y_hi: f64,
) -> anyhow::Result<()>
where
    Y: Ranged<ValueType = f64>,
{
    for (i, s) in spans.iter().enumerate() {
        let row = 4 + 14 * (i as i32 % 3);
        let color = kind_text_color(s.kind);
        let label = if s.open {
            format!("{} (never ended)", s.label)
        } else {
            s.label.clone()
        };
        let font = (FONT, 12).into_font().color(&color);
        // Near the right edge the label ends at the window's end instead.
        let (x, dx, font) = if s.start > 0.7 * x_end {
            (s.end, -3, font.pos(Pos::new(HPos::Right, VPos::Top)))
        } else {
            (s.start, 3, font)
        };
        chart.draw_series(std::iter::once(
            EmptyElement::at((x, y_hi)) + Text::new(label, (dx, row), font),
        ))?;
    }
    Ok(())
}

fn kind_text_color(kind: FaultKind) -> RGBColor {
    let RGBColor(r, g, b) = kind.color();
    RGBColor(r / 2, g / 2, b / 2)
}

fn fault_legend(spans: &[Span]) -> Vec<(String, Glyph)> {
    let kinds: std::collections::BTreeSet<FaultKind> = spans.iter().map(|s| s.kind).collect();
    kinds
        .into_iter()
        .map(|k| {
            (
                format!("fault: {}", k.name()),
                Glyph::Swatch(k.color().mix(0.25)),
            )
        })
        .collect()
}

/// The title area and the plot/legend split of a fresh SVG.
fn canvas<'a>(
    path: &'a Path,
    size: (u32, u32),
    title: &str,
) -> anyhow::Result<(Area<'a>, Area<'a>, Area<'a>)> {
    let root = SVGBackend::new(path, size).into_drawing_area();
    root.fill(&WHITE)?;
    let body = root.titled(title, (FONT, 22).into_font().color(&BLACK))?;
    let (plot, side) = body.split_horizontally(size.0 - LEGEND_WIDTH);
    Ok((root, plot, side))
}

// ---------------------------------------------------------------------------------------
// latency.svg
// ---------------------------------------------------------------------------------------

fn latency(path: &Path, done: &[Done], spans: &[Span], end: f64) -> anyhow::Result<()> {
    let (root, plot, side) = canvas(path, (1280, 640), "Operation latency over time")?;
    let (lo, hi) = done
        .iter()
        .map(|d| d.latency_ms.max(0.01))
        .fold((f64::INFINITY, 0.0f64), |(lo, hi), l| {
            (lo.min(l), hi.max(l))
        });
    let (lo, hi) = if done.is_empty() {
        (0.1, 1000.0)
    } else {
        // Headroom above the points for the window labels.
        ((lo / 2.0).max(0.005), (hi * 8.0).max(lo * 100.0))
    };
    let mut chart = ChartBuilder::on(&plot)
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..end, (lo..hi).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("time since start (s), at invocation")
        .y_desc("latency (ms, log scale)")
        .axis_desc_style((FONT, 15))
        .label_style((FONT, 13))
        .light_line_style(RGBColor(235, 235, 235))
        .max_light_lines(4)
        .x_label_formatter(&|v| fmt_num(*v))
        .y_label_formatter(&|v| fmt_ms(*v))
        .draw()?;
    shade(&mut chart, spans, lo, hi)?;

    let mut entries = Vec::new();
    let classes: std::collections::BTreeSet<Class> = done.iter().map(|d| d.class).collect();
    // ok first, so failures and unknowns are drawn over it.
    for outcome in OUTCOMES {
        for &class in &classes {
            let pts: Vec<(f64, f64)> = done
                .iter()
                .filter(|d| d.class == class && d.outcome == outcome)
                .map(|d| (d.invoked, d.latency_ms.max(lo)))
                .collect();
            if pts.is_empty() {
                continue;
            }
            let color = outcome_color(outcome);
            let style = color.mix(0.65).filled();
            match class {
                Class::Write => {
                    chart.draw_series(pts.iter().map(|&p| Circle::new(p, 2, style)))?;
                }
                Class::Read => {
                    chart.draw_series(pts.iter().map(|&p| TriangleMarker::new(p, 3, style)))?;
                }
                Class::Group => {
                    let s = color.mix(0.65).stroke_width(1);
                    chart.draw_series(pts.iter().map(|&p| Cross::new(p, 3, s)))?;
                }
            }
            entries.push((
                format!("{} {} ({})", class.name(), outcome_name(outcome), pts.len()),
                Glyph::Marker(class, color),
            ));
        }
    }
    label_windows(&mut chart, spans, end, hi)?;
    entries.extend(fault_legend(spans));
    legend(&side, &entries)?;
    root.present()?;
    Ok(())
}

/// Whole numbers without a fraction, others with one decimal.
fn fmt_num(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round() as i64)
    } else {
        format!("{v:.1}")
    }
}

fn fmt_ms(v: f64) -> String {
    if v >= 1000.0 {
        format!("{}s", v / 1000.0)
    } else if v >= 1.0 {
        format!("{v:.0}")
    } else {
        format!("{v}")
    }
}

// ---------------------------------------------------------------------------------------
// throughput.svg
// ---------------------------------------------------------------------------------------

fn throughput(path: &Path, done: &[Done], spans: &[Span], end: f64) -> anyhow::Result<()> {
    let (root, plot, side) = canvas(
        path,
        (1280, 560),
        "Throughput: completed operations per second",
    )?;
    let buckets = end.ceil().max(1.0) as usize;
    let mut counts = vec![vec![0u64; buckets]; OUTCOMES.len()];
    for d in done {
        let b = (d.completed.max(0.0) as usize).min(buckets - 1);
        if let Some(o) = OUTCOMES.iter().position(|&t| t == d.outcome) {
            counts[o][b] += 1;
        }
    }
    let max = counts.iter().flatten().copied().max().unwrap_or(0).max(1) as f64;
    // Headroom for the window labels.
    let hi = max * 1.25;
    let mut chart = ChartBuilder::on(&plot)
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..buckets as f64, 0.0..hi)?;
    chart
        .configure_mesh()
        .x_desc("time since start (s), by completion, 1 s buckets")
        .y_desc("operations / s")
        .axis_desc_style((FONT, 15))
        .label_style((FONT, 13))
        .light_line_style(RGBColor(235, 235, 235))
        .max_light_lines(4)
        .x_label_formatter(&|v| fmt_num(*v))
        .y_label_formatter(&|v| fmt_num(*v))
        .draw()?;
    shade(&mut chart, spans, 0.0, hi)?;
    let mut entries = Vec::new();
    for (outcome, v) in OUTCOMES.into_iter().zip(&counts) {
        let total: u64 = v.iter().sum();
        let color = outcome_color(outcome);
        // Each bucket's count drawn at the middle of its second.
        chart.draw_series(LineSeries::new(
            v.iter()
                .enumerate()
                .map(|(i, &c)| (i as f64 + 0.5, c as f64)),
            color.stroke_width(2),
        ))?;
        entries.push((
            format!("{} ({total})", outcome_name(outcome)),
            Glyph::Line(color),
        ));
    }
    label_windows(&mut chart, spans, buckets as f64, hi)?;
    entries.extend(fault_legend(spans));
    legend(&side, &entries)?;
    root.present()?;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// writers.svg
// ---------------------------------------------------------------------------------------

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct AddCounts {
    present: u64,
    lost: u64,
    unknown: u64,
    failed: u64,
    /// ok, but its key has no final read.
    unchecked: u64,
}

impl AddCounts {
    fn total(&self) -> u64 {
        self.present + self.lost + self.unknown + self.failed + self.unchecked
    }
    fn add(&mut self, o: &AddCounts) {
        self.present += o.present;
        self.lost += o.lost;
        self.unknown += o.unknown;
        self.failed += o.failed;
        self.unchecked += o.unchecked;
    }
}

#[derive(Debug, Default)]
struct Proc {
    id: u64,
    first_invoke: u64,
    /// Invocation index, completion kind and time of its latest operation.
    last: Option<(u64, Option<(Type, u64)>)>,
    first_counter: Option<u64>,
    last_counter: Option<u64>,
    adds: AddCounts,
}

/// A writer: the processes one worker used, in order (it takes a new process id after an
/// `info`).
#[derive(Debug)]
struct Worker {
    procs: Vec<u64>,
    adds: AddCounts,
}

/// Chains processes into workers. A process continues a worker whose last process ended in
/// `info` before it began, preferring the worker whose next payload counter (payloads are
/// `<process>-<counter>`, the counter running on across a worker's processes) is the
/// process's first, then the worker whose `info` came first (process ids are handed out in
/// that order). A heuristic: with no clue, a process starts a worker of its own.
fn workers(history: &[Record]) -> Vec<Worker> {
    let mut finals: HashMap<&str, HashSet<(&str, &str)>> = HashMap::new();
    for r in history {
        if r.kind == Type::Ok && r.f == "final" {
            if let Value::Read { entries, .. } = &r.value {
                finals.insert(
                    &r.key,
                    entries
                        .iter()
                        .map(|(i, p)| (i.as_str(), p.as_str()))
                        .collect(),
                );
            }
        }
    }
    let (ops, _) = pair(history);
    let mut procs: BTreeMap<u64, Proc> = BTreeMap::new();
    for op in &ops {
        let inv = op.invoke;
        if inv.f.starts_with("final") {
            continue;
        }
        let p = procs.entry(inv.process).or_insert_with(|| Proc {
            id: inv.process,
            first_invoke: inv.time_ns,
            ..Proc::default()
        });
        p.first_invoke = p.first_invoke.min(inv.time_ns);
        let later = match p.last {
            Some((i, _)) => i < inv.index,
            None => true,
        };
        if later {
            p.last = Some((inv.index, op.complete.map(|c| (c.kind, c.time_ns))));
        }
        if inv.f != "xadd" {
            continue;
        }
        if let Value::Payload(s) = &inv.value {
            if let Some(c) = s.rsplit_once('-').and_then(|(_, c)| c.parse::<u64>().ok()) {
                p.first_counter = Some(p.first_counter.map_or(c, |f| f.min(c)));
                p.last_counter = Some(p.last_counter.map_or(c, |l| l.max(c)));
            }
        }
        match op.complete {
            Some(c) if c.kind == Type::Ok => match (&c.value, finals.get(c.key.as_str())) {
                (Value::Added { id, payload }, Some(set)) => {
                    if set.contains(&(id.as_str(), payload.as_str())) {
                        p.adds.present += 1;
                    } else {
                        p.adds.lost += 1;
                    }
                }
                _ => p.adds.unchecked += 1,
            },
            Some(c) if c.kind == Type::Fail => p.adds.failed += 1,
            _ => p.adds.unknown += 1,
        }
    }

    struct Chain {
        worker: Worker,
        next_counter: u64,
        /// When its last process ended in `info`.
        open_since: Option<u64>,
    }
    let mut chains: Vec<Chain> = Vec::new();
    for p in procs.values() {
        let candidates: Vec<usize> = (0..chains.len())
            .filter(|&i| chains[i].open_since.is_some_and(|t| t <= p.first_invoke))
            .collect();
        let earliest = |it: &mut dyn Iterator<Item = usize>| {
            it.min_by_key(|&i| (chains[i].open_since, chains[i].worker.procs[0]))
        };
        let pick = match p.first_counter {
            Some(c) => earliest(
                &mut candidates
                    .iter()
                    .copied()
                    .filter(|&i| chains[i].next_counter == c),
            )
            .or_else(|| {
                // A fresh worker starts at 0; otherwise take the likeliest predecessor.
                if c == 0 {
                    None
                } else {
                    earliest(&mut candidates.iter().copied())
                }
            }),
            None => earliest(&mut candidates.iter().copied()),
        };
        let i = pick.unwrap_or_else(|| {
            chains.push(Chain {
                worker: Worker {
                    procs: Vec::new(),
                    adds: AddCounts::default(),
                },
                next_counter: 0,
                open_since: None,
            });
            chains.len() - 1
        });
        let ch = &mut chains[i];
        ch.worker.procs.push(p.id);
        ch.worker.adds.add(&p.adds);
        if let Some(l) = p.last_counter {
            ch.next_counter = l + 1;
        }
        ch.open_since = match p.last {
            Some((_, Some((Type::Info, t)))) => Some(t),
            _ => None,
        };
    }
    chains
        .into_iter()
        .map(|c| c.worker)
        .filter(|w| w.adds.total() > 0)
        .collect()
}

fn worker_name(w: &Worker) -> String {
    let ps: Vec<String> = w.procs.iter().map(|p| p.to_string()).collect();
    if ps.len() <= 4 {
        format!("p{}", ps.join(","))
    } else {
        format!("p{},… (+{})", ps[..3].join(","), ps.len() - 3)
    }
}

/// A stacked bar's part: its legend name, colour and count.
type BarPart = (&'static str, RGBColor, fn(&AddCounts) -> u64);

fn writers(path: &Path, history: &[Record]) -> anyhow::Result<()> {
    let all = workers(history);
    let mut total = AddCounts::default();
    for w in &all {
        total.add(&w.adds);
    }
    let mut shown: Vec<&Worker> = all.iter().collect();
    if shown.len() > MAX_WRITERS {
        // The most interesting: lost first, then unknown, then the busiest.
        shown.sort_by_key(|w| std::cmp::Reverse((w.adds.lost, w.adds.unknown, w.adds.total())));
        shown.truncate(MAX_WRITERS);
        shown.sort_by_key(|w| w.procs[0]);
    }
    let n = shown.len().max(1);
    let height = (140 + 26 * n as u32).max(360);
    let mut title = format!(
        "XADDs per writer: {} in final log, {} lost, {} unknown, {} failed",
        total.present, total.lost, total.unknown, total.failed
    );
    if total.unchecked > 0 {
        title.push_str(&format!(", {} unchecked", total.unchecked));
    }
    let (root, plot, side) = canvas(path, (1280, height), &title)?;
    let max = shown
        .iter()
        .map(|w| w.adds.total())
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let names: Vec<String> = shown.iter().map(|w| worker_name(w)).collect();
    let caption = if all.is_empty() {
        "no XADDs in this history".to_string()
    } else if all.len() > shown.len() {
        format!(
            "{} of {} writers (the ones with most lost / unknown); a writer = the processes one worker used",
            shown.len(),
            all.len()
        )
    } else {
        "a writer = the processes one worker used (it takes a new process id after an info)"
            .to_string()
    };
    let mut chart = ChartBuilder::on(&plot)
        .margin(12)
        .caption(caption, (FONT, 13).into_font().color(&RGBColor(90, 90, 90)))
        .x_label_area_size(45)
        .y_label_area_size(150)
        .build_cartesian_2d(0.0..max * 1.05, (0..n - 1).into_segmented())?;
    // The first writer at the top.
    let row = |i: usize| n - 1 - i;
    let label = |v: &SegmentValue<usize>| match v {
        SegmentValue::CenterOf(r) if *r < n => names.get(row(*r)).cloned().unwrap_or_default(),
        _ => String::new(),
    };
    chart
        .configure_mesh()
        .disable_y_mesh()
        .x_desc("XADD operations")
        .y_desc("writer (its process ids)")
        .axis_desc_style((FONT, 15))
        .label_style((FONT, 13))
        .light_line_style(RGBColor(235, 235, 235))
        .y_labels(n)
        .max_light_lines(4)
        .x_label_formatter(&|v| fmt_num(*v))
        .y_label_formatter(&label)
        .draw()?;
    let parts: [BarPart; 5] = [
        ("ok, in final log", RGBColor(44, 160, 44), |c| c.present),
        ("ok, LOST", RGBColor(214, 39, 40), |c| c.lost),
        ("unknown (info)", RGBColor(255, 127, 14), |c| c.unknown),
        ("failed", RGBColor(160, 160, 160), |c| c.failed),
        (UNCHECKED, RGBColor(31, 119, 180), |c| c.unchecked),
    ];
    for (i, w) in shown.iter().enumerate() {
        let mut x = 0.0;
        for (_, color, get) in &parts {
            let v = get(&w.adds) as f64;
            if v == 0.0 {
                continue;
            }
            let mut rect = Rectangle::new(
                [
                    (x, SegmentValue::Exact(row(i))),
                    (x + v, SegmentValue::Exact(row(i) + 1)),
                ],
                color.filled(),
            );
            rect.set_margin(4, 4, 0, 0);
            chart.draw_series(std::iter::once(rect))?;
            x += v;
        }
        chart.draw_series(std::iter::once(
            EmptyElement::at((x, SegmentValue::CenterOf(row(i))))
                + Text::new(
                    count_label(&w.adds),
                    (6, -6),
                    (FONT, 12).into_font().color(&BLACK),
                ),
        ))?;
    }
    let entries: Vec<(String, Glyph)> = parts
        .iter()
        .filter(|(name, _, get)| *name != UNCHECKED || get(&total) > 0)
        .map(|(name, color, get)| {
            (
                format!("{name} ({})", get(&total)),
                Glyph::Swatch(color.mix(1.0)),
            )
        })
        .collect();
    legend(&side, &entries)?;
    root.present()?;
    Ok(())
}

fn count_label(c: &AddCounts) -> String {
    let mut s = c.total().to_string();
    if c.lost > 0 {
        s.push_str(&format!(" ({} lost)", c.lost));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(kind: FaultKind, start: f64, end: Option<f64>, label: &str) -> FaultWindow {
        FaultWindow {
            kind,
            start,
            end,
            label: label.into(),
        }
    }

    #[test]
    fn windows_pair_starts_with_ends() {
        let log = "\
0.012 cluster up: proxy 127.0.0.1:1, peers 127.0.0.1:2
3.000 kill -9 nodes [2]
5.100 restarted [2]
7.250 SIGSTOP node 1 (leader of shard 0)
10.300 SIGCONT node 1
11.000 partition [1] | [2, 3]
13.000 heal partition
14.000 packet loss 20% on node 3
15.500 loss off
16.000 clock jump +30s on node 2
17.000 clock reset
18.000 kill -9 every node
19.000 restarted every node
";
        assert_eq!(
            parse_fault_windows(log),
            vec![
                w(FaultKind::Kill, 3.0, Some(5.1), "kill -9 nodes [2]"),
                w(
                    FaultKind::Pause,
                    7.25,
                    Some(10.3),
                    "SIGSTOP node 1 (leader of shard 0)"
                ),
                w(
                    FaultKind::Partition,
                    11.0,
                    Some(13.0),
                    "partition [1] | [2, 3]"
                ),
                w(
                    FaultKind::Loss,
                    14.0,
                    Some(15.5),
                    "packet loss 20% on node 3"
                ),
                w(
                    FaultKind::Clock,
                    16.0,
                    Some(17.0),
                    "clock jump +30s on node 2"
                ),
                w(FaultKind::Kill, 18.0, Some(19.0), "kill -9 every node"),
            ]
        );
    }

    #[test]
    fn windows_without_an_end_stay_open_and_noise_is_ignored() {
        let log = "

not a line
x.yz kill -9 nodes [1]
1.0 restarted [3]
2.0 SIGCONT node 4
3.5 kill -9 nodes [1, 3]
4.0 SIGSTOP node 2 (leader of shard 1)
4.5 final reads done
";
        assert_eq!(
            parse_fault_windows(log),
            vec![
                w(FaultKind::Kill, 3.5, None, "kill -9 nodes [1, 3]"),
                w(
                    FaultKind::Pause,
                    4.0,
                    None,
                    "SIGSTOP node 2 (leader of shard 1)"
                ),
            ]
        );
        assert!(parse_fault_windows("").is_empty());
    }

    #[test]
    fn overlapping_faults_end_by_target_then_oldest() {
        let log = "\
1.0 SIGSTOP node 1 (leader of shard 0)
2.0 SIGSTOP node 2 (leader of shard 1)
3.0 SIGCONT node 2
4.0 kill -9 nodes [3, 1]
4.5 kill -9 nodes [2]
5.0 restarted [2]
6.0 restarted
7.0 SIGCONT
";
        let ws = parse_fault_windows(log);
        let ends: Vec<(f64, Option<f64>)> = ws.iter().map(|w| (w.start, w.end)).collect();
        assert_eq!(
            ends,
            vec![
                (1.0, Some(7.0)),
                (2.0, Some(3.0)),
                (4.0, Some(6.0)),
                (4.5, Some(5.0))
            ]
        );
    }

    #[test]
    fn the_nemesis_modules_lines_parse() {
        let log = "\
1.000 kill -9 nodes [3] (leader of shard 2)
2.000 restarted [3]
3.000 partition: node 1 (leader of shard 0) isolated from the other nodes
4.000 heal partition
5.000 partition: proxy cut from nodes [2, 3]
6.000 heal partition
7.000 packet loss 20% on every host
8.000 packet loss off
9.000 clock jump: node 2 by -30000 ms
10.000 clock reset: node 2
11.000 clock jump: node 1 by 2000 ms
12.000 clock left skewed: node 1
13.000 SIGSTOP node 3 (leader of shard 1)
14.000 SIGCONT node 3
20.000 heal: every node running and resumed, network whole, clocks true
21.000 recovery done: stopping the load
";
        let got: Vec<(FaultKind, f64, Option<f64>)> = parse_fault_windows(log)
            .iter()
            .map(|w| (w.kind, w.start, w.end))
            .collect();
        use FaultKind::*;
        assert_eq!(
            got,
            vec![
                (Kill, 1.0, Some(2.0)),
                (Partition, 3.0, Some(4.0)),
                (Partition, 5.0, Some(6.0)),
                (Loss, 7.0, Some(8.0)),
                (Clock, 9.0, Some(10.0)),
                (Clock, 11.0, Some(20.0)),
                (Pause, 13.0, Some(14.0)),
            ]
        );
    }

    #[test]
    fn a_general_heal_ends_every_open_fault() {
        let log = "\
1.0 partition [1] | [2, 3]
2.0 SIGSTOP node 3 (leader of shard 2)
3.0 clock jump -10s on node 1
9.0 heal: every node running and resumed
";
        let ws = parse_fault_windows(log);
        assert_eq!(ws.len(), 3);
        assert!(ws.iter().all(|w| w.end == Some(9.0)));
    }

    // --- synthetic histories -----------------------------------------------------------

    struct Gen {
        out: Vec<Record>,
    }

    impl Gen {
        fn push(&mut self, t_ms: f64, process: u64, kind: Type, f: &str, key: &str, value: Value) {
            let index = self.out.len() as u64;
            self.out.push(Record {
                index,
                time_ns: (t_ms * 1e6) as u64,
                process,
                kind,
                f: f.into(),
                key: key.into(),
                value,
                node: None,
                error: None,
            });
        }
    }

    /// `workers` workers for `secs` seconds; a kill from 10 s to 12 s (XADDs time out as
    /// `info`, the worker takes a new process) and a pause from 20 s to 23 s (slow); a few
    /// acknowledged XADDs missing from the final reads.
    fn synthetic(workers: u64, secs: u64) -> Vec<Record> {
        let mut events: Vec<(f64, u64, Type, String, String, Value)> = Vec::new();
        let mut seed = 0x9e3779b97f4a7c15u64;
        let mut rnd = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut next_process = workers + 1;
        let mut acked: Vec<(String, String, String)> = Vec::new();
        let mut seq = 0u64;
        for wid in 0..workers {
            let mut process = wid + 1;
            let mut counter = 0u64;
            let mut t = 5.0 + rnd() * 50.0;
            while t < secs as f64 * 1000.0 {
                let key = format!("s{}", (rnd() * 3.0) as u64);
                let in_kill = (10_000.0..12_000.0).contains(&t);
                let in_pause = (20_000.0..23_000.0).contains(&t);
                let mut lat = 0.3 + rnd() * rnd() * 8.0;
                if in_pause {
                    lat = 23_000.0 - t + rnd() * 30.0;
                }
                let xadd = rnd() < 0.8;
                let f = if xadd { "xadd" } else { "xrange" };
                let inv = if xadd {
                    let p = format!("{process}-{counter}");
                    counter += 1;
                    Value::Payload(p)
                } else {
                    Value::None
                };
                events.push((t, process, Type::Invoke, f.into(), key.clone(), inv.clone()));
                let (kind, value) = if in_kill && rnd() < 0.5 {
                    lat = 5000.0;
                    (Type::Info, Value::None)
                } else if in_kill {
                    lat = 0.2 + rnd();
                    (Type::Fail, Value::None)
                } else if let Value::Payload(p) = inv {
                    seq += 1;
                    let id = format!("{}-{seq}", (t + lat) as u64);
                    acked.push((key.clone(), id.clone(), p.clone()));
                    (Type::Ok, Value::Added { id, payload: p })
                } else {
                    (
                        Type::Ok,
                        Value::Read {
                            after: None,
                            entries: vec![],
                        },
                    )
                };
                events.push((t + lat, process, kind, f.into(), key, value));
                if kind == Type::Info {
                    process = next_process;
                    next_process += 1;
                }
                t += lat + 80.0 + rnd() * 40.0;
            }
        }
        events.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut g = Gen { out: Vec::new() };
        for (t, p, k, f, key, v) in events {
            g.push(t, p, k, &f, &key, v);
        }
        let end = secs as f64 * 1000.0 + 6000.0;
        let finals = next_process;
        for k in 0..3 {
            let key = format!("s{k}");
            let entries: Vec<(String, String)> = acked
                .iter()
                .enumerate()
                .filter(|(i, a)| a.0 == key && i % 97 != 5)
                .map(|(_, a)| (a.1.clone(), a.2.clone()))
                .collect();
            g.push(end, finals, Type::Invoke, "final", &key, Value::None);
            g.push(
                end + 1.0,
                finals,
                Type::Ok,
                "final",
                &key,
                Value::Read {
                    after: None,
                    entries,
                },
            );
        }
        g.out
    }

    #[test]
    fn processes_chain_into_workers() {
        let h = synthetic(4, 30);
        let ws = workers(&h);
        assert_eq!(ws.len(), 4, "{ws:?}");
        assert!(ws.iter().any(|w| w.procs.len() > 1), "{ws:?}");
        let procs: HashSet<u64> = ws.iter().flat_map(|w| w.procs.clone()).collect();
        let writers: HashSet<u64> = h
            .iter()
            .filter(|r| r.f == "xadd")
            .map(|r| r.process)
            .collect();
        assert_eq!(procs, writers);
        // Every worker's payload counters run on without a gap or a repeat.
        for w in &ws {
            let mut counters: Vec<u64> = h
                .iter()
                .filter(|r| r.kind == Type::Invoke && w.procs.contains(&r.process))
                .filter_map(|r| match &r.value {
                    Value::Payload(p) => p.rsplit_once('-')?.1.parse().ok(),
                    _ => None,
                })
                .collect();
            counters.sort_unstable();
            assert!(
                counters.iter().enumerate().all(|(i, &c)| c == i as u64),
                "{w:?}"
            );
        }
        let lost: u64 = ws.iter().map(|w| w.adds.lost).sum();
        assert!(lost > 0);
    }

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("jepsen-plot-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn assert_svg(path: &Path, title: &str) {
        let s = std::fs::read_to_string(path).unwrap();
        let head = s.trim_start();
        assert!(
            head.starts_with("<svg") || head.starts_with("<?xml"),
            "{path:?}"
        );
        assert!(s.trim_end().ends_with("</svg>"), "{path:?}");
        assert!(s.contains(title), "{path:?} lacks {title:?}");
    }

    #[test]
    fn plots_a_synthetic_run() {
        // PLOT_DIR=<dir> keeps the pictures there, to look at them.
        let keep = std::env::var_os("PLOT_DIR").map(PathBuf::from);
        let dir = keep.clone().unwrap_or_else(|| scratch("run"));
        std::fs::create_dir_all(&dir).unwrap();
        let h = synthetic(6, 40);
        let log = "\
0.010 cluster up: proxy 127.0.0.1:1, peers 127.0.0.1:2
10.000 kill -9 nodes [2]
12.000 restarted [2]
20.000 SIGSTOP node 1 (leader of shard 0)
23.000 SIGCONT node 1
38.000 partition [1] | [2, 3]
";
        let files = plot_run(&dir, &h, log).unwrap();
        assert_eq!(
            files,
            vec![
                dir.join(LATENCY_SVG),
                dir.join(THROUGHPUT_SVG),
                dir.join(WRITERS_SVG)
            ]
        );
        assert_svg(&files[0], "Operation latency over time");
        assert_svg(&files[0], "kill -9 nodes [2]");
        assert_svg(&files[0], "(never ended)");
        assert_svg(&files[1], "Throughput: completed operations per second");
        assert_svg(&files[1], "SIGSTOP node 1");
        assert_svg(&files[2], "XADDs per writer");
        if keep.is_none() {
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }

    #[test]
    fn plots_a_stored_run_without_a_nemesis_log() {
        let dir = scratch("stored");
        let mut out = Vec::new();
        crate::history::write_jsonl(&synthetic(2, 5), &mut out).unwrap();
        std::fs::write(dir.join("history.jsonl"), out).unwrap();
        let files = plot_stored(&dir).unwrap();
        assert_eq!(files.len(), 3);
        assert_svg(&files[0], "Operation latency over time");
        assert_svg(&files[1], "Throughput");
        assert_svg(&files[2], "XADDs per writer");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn plots_an_empty_history() {
        let dir = scratch("empty");
        let files = plot_run(&dir, &[], "1.0 kill -9 nodes [1]\n").unwrap();
        for f in &files {
            assert_svg(f, "<svg");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
