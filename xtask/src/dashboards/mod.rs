//! The Grafana dashboards, as data: panels, their PromQL targets, variables and links.
//!
//! Each dashboard is written in Rust with small builders (`timeseries`, `stat`, ...) and a
//! computed grid (`Layout`); [`Dashboard::render`] turns it into Grafana's classic JSON model
//! (schemaVersion 39: Grafana 10.3 to 12 load it, newer versions migrate it forward).
//!
//! Conventions every dashboard follows (and the tests check):
//!
//! - a stable `uid`, `id: null`, a `datasource` variable of type `datasource` used by every
//!   panel and target as `${datasource}` (never a data source uid);
//! - the `provider` and `model` variables (or `route` on the HTTP dashboard) are multi-value
//!   with "All" = `.*`, and filter every selector of a metric that has that label;
//! - every rate is over `$__rate_interval` (subqueries aside); every panel has a unit and a
//!   description; ratios in 0..1 are shown as `percentunit`, money as `currencyUSD`.

use serde_json::{Map, Value, json};

use crate::GENERATED_BY;

mod business;
mod cost;
mod models;
mod overview;
mod performance;
mod provider_health;

/// The dashboard variables that [`promql::substitute`](crate::promql::substitute) knows.
pub const VARIABLE_NAMES: &[&str] = &["provider", "model", "route"];

/// Tag shared by every gatewayz dashboard (the dashboards' link menus list them by it).
pub const TAG: &str = "gatewayz";

/// Every dashboard, the Overview first.
pub fn all() -> Vec<Dashboard> {
    vec![
        overview::dashboard(),
        provider_health::dashboard(),
        cost::dashboard(),
        models::dashboard(),
        business::dashboard(),
        performance::dashboard(),
    ]
}

/// One Grafana dashboard.
#[derive(Debug, Clone)]
pub struct Dashboard {
    /// Stable uid: the dashboard's URL is `/d/<uid>`.
    pub uid: &'static str,
    /// Title shown in Grafana.
    pub title: &'static str,
    /// File name under `dashboards/grafana/`.
    pub file: &'static str,
    /// What the dashboard is for (the JSON description adds the generated-file notice).
    pub summary: &'static str,
    /// Tags, [`TAG`] first.
    pub tags: Vec<&'static str>,
    /// Template variables, `datasource` first.
    pub variables: Vec<Variable>,
    /// Links shown at the top of the dashboard.
    pub links: Vec<Link>,
    /// Every panel, rows included, laid out, in reading order.
    pub panels: Vec<Panel>,
}

/// A template variable.
#[derive(Debug, Clone, PartialEq)]
pub enum Variable {
    /// `datasource`: picks a Prometheus data source.
    Datasource,
    /// A multi-value variable filled by a `label_values(...)` query, "All" being `.*`.
    Query {
        /// Variable name, used as `$name` in queries.
        name: &'static str,
        /// Label shown in the variable bar.
        label: &'static str,
        /// The Grafana query, e.g. `label_values(model_inference_requests_total, provider)`.
        query: String,
    },
}

impl Variable {
    /// The variable's name.
    pub fn name(&self) -> &'static str {
        match self {
            Variable::Datasource => "datasource",
            Variable::Query { name, .. } => name,
        }
    }
}

/// A link to another dashboard (or to the tag menu of all of them).
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    /// Text of the link.
    pub title: String,
    /// Where it goes: `/d/<uid>` for a dashboard; empty for the tag menu.
    pub url: String,
    /// Hover text.
    pub tooltip: String,
}

/// A panel: a visualisation and its queries, or a row header.
#[derive(Debug, Clone, PartialEq)]
pub struct Panel {
    /// Unique within the dashboard; assigned by `Layout`.
    pub id: u32,
    /// Visualisation type.
    pub kind: PanelKind,
    /// Title.
    pub title: String,
    /// What it shows, how to read it, and what is normal.
    pub description: String,
    /// Unit of the values.
    pub unit: Unit,
    /// Position on the 24-column grid; assigned by `Layout`.
    pub grid: GridPos,
    /// PromQL queries.
    pub targets: Vec<Target>,
    /// Axis or gauge bounds.
    pub min: Option<f64>,
    /// Axis or gauge bounds.
    pub max: Option<f64>,
    /// Colour thresholds, ascending; the first is the base colour (`value: None`).
    pub thresholds: Vec<Threshold>,
    /// Value-to-text mappings (state panels).
    pub mappings: Vec<Mapping>,
    /// Relative time override, e.g. `now/M` for "this month so far".
    pub time_from: Option<&'static str>,
    /// Links from the panel (the Overview's panels open the detailed dashboards).
    pub links: Vec<Link>,
    /// Stack the series (time series panels).
    pub stacked: bool,
}

/// Visualisation type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PanelKind {
    /// A row header (no queries).
    Row,
    /// Lines over time.
    TimeSeries,
    /// One big number per series.
    Stat,
    /// Horizontal bars, one per series.
    BarGauge,
    /// Coloured bands of discrete states over time.
    StateTimeline,
}

impl PanelKind {
    /// Grafana's panel type id.
    pub fn grafana_type(self) -> &'static str {
        match self {
            PanelKind::Row => "row",
            PanelKind::TimeSeries => "timeseries",
            PanelKind::Stat => "stat",
            PanelKind::BarGauge => "bargauge",
            PanelKind::StateTimeline => "state-timeline",
        }
    }
}

/// Unit of a panel's values, as Grafana names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Durations in seconds (`s`).
    Seconds,
    /// Ratios in 0..1, shown as percentages (`percentunit`).
    PercentUnit,
    /// US dollars (`currencyUSD`).
    Usd,
    /// Plain numbers with SI suffixes (`short`): counts, tokens, credits.
    Short,
    /// Requests per second (`reqps`).
    RequestsPerSecond,
    /// Events per second (`ops`).
    OpsPerSecond,
    /// Discrete states shown through value mappings (`none`).
    State,
}

impl Unit {
    /// Grafana's unit id.
    pub fn grafana_id(self) -> &'static str {
        match self {
            Unit::Seconds => "s",
            Unit::PercentUnit => "percentunit",
            Unit::Usd => "currencyUSD",
            Unit::Short => "short",
            Unit::RequestsPerSecond => "reqps",
            Unit::OpsPerSecond => "ops",
            Unit::State => "none",
        }
    }
}

/// A grid position: 24 columns; heights in rows of 30 px.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GridPos {
    /// Column of the left edge, 0..24.
    pub x: u32,
    /// Row of the top edge.
    pub y: u32,
    /// Width in columns.
    pub w: u32,
    /// Height in rows.
    pub h: u32,
}

impl GridPos {
    /// Whether two positions share any cell.
    pub fn overlaps(&self, other: &GridPos) -> bool {
        self.x < other.x + other.w
            && other.x < self.x + self.w
            && self.y < other.y + other.h
            && other.y < self.y + self.h
    }
}

/// One PromQL query of a panel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `A`, `B`, ... in order.
    pub ref_id: String,
    /// PromQL, with Grafana variables; see [`promql::substitute`](crate::promql::substitute).
    pub expr: String,
    /// Series name template, e.g. `{{provider}}`.
    pub legend: String,
    /// An instant query (one value at the end of the range) rather than a range query.
    pub instant: bool,
}

/// A colour threshold.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Threshold {
    /// Lower bound; `None` for the base colour.
    pub value: Option<f64>,
    /// Grafana colour name.
    pub color: &'static str,
}

/// Shows a numeric value as text and colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mapping {
    /// The value.
    pub value: i64,
    /// Text shown instead.
    pub text: &'static str,
    /// Grafana colour name.
    pub color: &'static str,
}

impl Dashboard {
    /// `/d/<uid>`, the dashboard's URL path.
    pub fn url(&self) -> String {
        format!("/d/{}", self.uid)
    }

    /// Every (panel, target) pair, in panel order.
    pub fn targets(&self) -> impl Iterator<Item = (&Panel, &Target)> {
        self.panels
            .iter()
            .flat_map(|panel| panel.targets.iter().map(move |target| (panel, target)))
    }

    /// The description written into the JSON: the generated-file notice, then the summary.
    pub fn description(&self) -> String {
        format!(
            "{GENERATED_BY} from xtask/src/dashboards/; do not edit. {}",
            self.summary
        )
    }

    /// Grafana's JSON model of the dashboard.
    pub fn to_json(&self) -> Value {
        json!({
            "annotations": {"list": [{
                "builtIn": 1,
                "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                "enable": true,
                "hide": true,
                "iconColor": "rgba(0, 211, 255, 1)",
                "name": "Annotations & Alerts",
                "type": "dashboard",
            }]},
            "description": self.description(),
            "editable": true,
            "fiscalYearStartMonth": 0,
            "graphTooltip": 1,
            "id": null,
            "links": self.links.iter().map(dashboard_link).collect::<Vec<_>>(),
            "panels": self.panels.iter().map(Panel::to_json).collect::<Vec<_>>(),
            "refresh": "30s",
            "schemaVersion": 39,
            "tags": self.tags,
            "templating": {"list": self.variables.iter().map(Variable::to_json).collect::<Vec<_>>()},
            "time": {"from": "now-6h", "to": "now"},
            "timepicker": {},
            "timezone": "browser",
            "title": self.title,
            "uid": self.uid,
            "version": 1,
            "weekStart": "",
        })
    }

    /// The JSON file: pretty-printed, keys sorted, newline-terminated.
    pub fn render(&self) -> String {
        let mut text =
            serde_json::to_string_pretty(&canonical(&self.to_json())).expect("JSON serialises");
        text.push('\n');
        text
    }
}

/// `value` with every object's keys in sorted order, whatever serde_json's map type.
fn canonical(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let mut sorted = Map::new();
            for key in keys {
                sorted.insert(key.clone(), canonical(&map[key]));
            }
            Value::Object(sorted)
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

/// The data source reference every panel and target uses.
pub fn datasource_ref() -> Value {
    json!({"type": "prometheus", "uid": "${datasource}"})
}

fn dashboard_link(link: &Link) -> Value {
    if link.url.is_empty() {
        json!({
            "asDropdown": true,
            "icon": "external link",
            "includeVars": true,
            "keepTime": true,
            "tags": [TAG],
            "targetBlank": false,
            "title": link.title,
            "tooltip": link.tooltip,
            "type": "dashboards",
            "url": "",
        })
    } else {
        json!({
            "asDropdown": false,
            "icon": "dashboard",
            "includeVars": true,
            "keepTime": true,
            "tags": [],
            "targetBlank": false,
            "title": link.title,
            "tooltip": link.tooltip,
            "type": "link",
            "url": link.url,
        })
    }
}

impl Variable {
    fn to_json(&self) -> Value {
        match self {
            Variable::Datasource => json!({
                "current": {},
                "hide": 0,
                "includeAll": false,
                "label": "Data source",
                "multi": false,
                "name": "datasource",
                "options": [],
                "query": "prometheus",
                "refresh": 1,
                "regex": "",
                "skipUrlSync": false,
                "type": "datasource",
            }),
            Variable::Query { name, label, query } => json!({
                "allValue": ".*",
                "current": {"selected": true, "text": ["All"], "value": ["$__all"]},
                "datasource": datasource_ref(),
                "definition": query,
                "hide": 0,
                "includeAll": true,
                "label": label,
                "multi": true,
                "name": name,
                "options": [],
                "query": query,
                "refresh": 2,
                "regex": "",
                "skipUrlSync": false,
                "sort": 1,
                "type": "query",
            }),
        }
    }
}

impl Panel {
    fn to_json(&self) -> Value {
        let grid = json!({"h": self.grid.h, "w": self.grid.w, "x": self.grid.x, "y": self.grid.y});
        if self.kind == PanelKind::Row {
            return json!({
                "collapsed": false,
                "gridPos": grid,
                "id": self.id,
                "panels": [],
                "title": self.title,
                "type": "row",
            });
        }
        let mut defaults = json!({
            "color": {"mode": if self.kind == PanelKind::TimeSeries { "palette-classic" } else { "thresholds" }},
            "mappings": self.mappings_json(),
            "thresholds": {"mode": "absolute", "steps": self.threshold_steps()},
            "unit": self.unit.grafana_id(),
        });
        if let Some(min) = self.min {
            defaults["min"] = json!(min);
        }
        if let Some(max) = self.max {
            defaults["max"] = json!(max);
        }
        if let Some(custom) = self.custom() {
            defaults["custom"] = custom;
        }
        let mut panel = json!({
            "datasource": datasource_ref(),
            "description": self.description,
            "fieldConfig": {"defaults": defaults, "overrides": []},
            "gridPos": grid,
            "id": self.id,
            "options": self.options(),
            "targets": self.targets.iter().map(Target::to_json).collect::<Vec<_>>(),
            "title": self.title,
            "type": self.kind.grafana_type(),
        });
        if let Some(from) = self.time_from {
            panel["timeFrom"] = json!(from);
        }
        if !self.links.is_empty() {
            panel["links"] = self
                .links
                .iter()
                .map(|l| json!({"targetBlank": false, "title": l.title, "url": format!("{}?${{__url_time_range}}&${{datasource:queryparam}}", l.url)}))
                .collect();
        }
        panel
    }

    fn threshold_steps(&self) -> Value {
        if self.thresholds.is_empty() {
            return json!([{"color": "green", "value": null}]);
        }
        self.thresholds
            .iter()
            .map(|t| json!({"color": t.color, "value": t.value}))
            .collect()
    }

    fn mappings_json(&self) -> Value {
        if self.mappings.is_empty() {
            return json!([]);
        }
        let mut options = Map::new();
        for (index, mapping) in self.mappings.iter().enumerate() {
            options.insert(
                mapping.value.to_string(),
                json!({"color": mapping.color, "index": index, "text": mapping.text}),
            );
        }
        json!([{"options": options, "type": "value"}])
    }

    fn custom(&self) -> Option<Value> {
        match self.kind {
            PanelKind::TimeSeries => Some(json!({
                "axisSoftMin": 0,
                "drawStyle": "line",
                "fillOpacity": if self.stacked { 30 } else { 10 },
                "lineWidth": 1,
                "showPoints": "never",
                "spanNulls": false,
                "stacking": {"group": "A", "mode": if self.stacked { "normal" } else { "none" }},
                "thresholdsStyle": {"mode": if self.thresholds.is_empty() { "off" } else { "dashed" }},
            })),
            PanelKind::StateTimeline => Some(json!({"fillOpacity": 80, "lineWidth": 0})),
            _ => None,
        }
    }

    fn options(&self) -> Value {
        let reduce = json!({"calcs": ["lastNotNull"], "fields": "", "values": false});
        match self.kind {
            PanelKind::TimeSeries => json!({
                "legend": {"calcs": ["mean", "max", "lastNotNull"], "displayMode": "table", "placement": "bottom", "showLegend": true},
                "tooltip": {"mode": "multi", "sort": "desc"},
            }),
            PanelKind::Stat => json!({
                "colorMode": if self.thresholds.is_empty() && self.mappings.is_empty() { "value" } else { "background" },
                "graphMode": if self.targets.iter().all(|t| t.instant) { "none" } else { "area" },
                "justifyMode": "auto",
                "orientation": "auto",
                "reduceOptions": reduce,
                "textMode": if self.targets.len() > 1 || self.targets.iter().any(|t| !t.legend.is_empty()) { "value_and_name" } else { "value" },
                "wideLayout": true,
            }),
            PanelKind::BarGauge => json!({
                "displayMode": "gradient",
                "orientation": "horizontal",
                "reduceOptions": reduce,
                "showUnfilled": true,
                "valueMode": "color",
            }),
            PanelKind::StateTimeline => json!({
                "alignValue": "left",
                "legend": {"displayMode": "list", "placement": "bottom", "showLegend": true},
                "mergeValues": true,
                "rowHeight": 0.9,
                "showValue": "auto",
                "tooltip": {"mode": "single", "sort": "none"},
            }),
            PanelKind::Row => json!({}),
        }
    }
}

impl Target {
    fn to_json(&self) -> Value {
        json!({
            "datasource": datasource_ref(),
            "editorMode": "code",
            "expr": self.expr,
            "instant": self.instant,
            "legendFormat": self.legend,
            "range": !self.instant,
            "refId": self.ref_id,
        })
    }
}

// --- builders ------------------------------------------------------------------------------

/// A target; its `refId` is assigned by the panel builder.
pub(crate) fn target(expr: impl Into<String>, legend: &str) -> Target {
    Target {
        ref_id: String::new(),
        expr: expr.into(),
        legend: legend.to_owned(),
        instant: false,
    }
}

fn panel(
    kind: PanelKind,
    title: &str,
    unit: Unit,
    description: &str,
    targets: Vec<Target>,
    (w, h): (u32, u32),
) -> Panel {
    let targets = targets
        .into_iter()
        .enumerate()
        .map(|(i, t)| Target {
            ref_id: char::from(b'A' + i as u8).to_string(),
            ..t
        })
        .collect();
    Panel {
        id: 0,
        kind,
        title: title.to_owned(),
        description: description.to_owned(),
        unit,
        grid: GridPos {
            w,
            h,
            ..GridPos::default()
        },
        targets,
        min: None,
        max: None,
        thresholds: Vec::new(),
        mappings: Vec::new(),
        time_from: None,
        links: Vec::new(),
        stacked: false,
    }
}

/// A time series panel, half the width.
pub(crate) fn timeseries(
    title: &str,
    unit: Unit,
    description: &str,
    targets: Vec<Target>,
) -> Panel {
    let min = matches!(unit, Unit::PercentUnit).then_some(0.0);
    Panel {
        min,
        ..panel(
            PanelKind::TimeSeries,
            title,
            unit,
            description,
            targets,
            (12, 8),
        )
    }
}

/// A stat panel, a quarter of the width.
pub(crate) fn stat(title: &str, unit: Unit, description: &str, targets: Vec<Target>) -> Panel {
    panel(PanelKind::Stat, title, unit, description, targets, (6, 4))
}

/// A horizontal bar gauge, half the width; its targets are instant queries.
pub(crate) fn bargauge(title: &str, unit: Unit, description: &str, targets: Vec<Target>) -> Panel {
    panel(
        PanelKind::BarGauge,
        title,
        unit,
        description,
        targets,
        (12, 8),
    )
    .instant()
}

/// A state timeline, full width; pair it with [`Panel::mappings`].
pub(crate) fn state_timeline(title: &str, description: &str, targets: Vec<Target>) -> Panel {
    panel(
        PanelKind::StateTimeline,
        title,
        Unit::State,
        description,
        targets,
        (24, 7),
    )
}

impl Panel {
    /// Width and height on the grid.
    pub(crate) fn size(mut self, w: u32, h: u32) -> Self {
        self.grid.w = w;
        self.grid.h = h;
        self
    }

    /// Axis (or gauge) bounds.
    pub(crate) fn range(mut self, min: f64, max: f64) -> Self {
        self.min = Some(min);
        self.max = Some(max);
        self
    }

    /// Colour thresholds: the base colour, then `(lower bound, colour)` ascending.
    pub(crate) fn thresholds(mut self, base: &'static str, steps: &[(f64, &'static str)]) -> Self {
        self.thresholds = std::iter::once(Threshold {
            value: None,
            color: base,
        })
        .chain(steps.iter().map(|&(value, color)| Threshold {
            value: Some(value),
            color,
        }))
        .collect();
        self
    }

    /// Value mappings: `(value, text, colour)`.
    pub(crate) fn mappings(mut self, mappings: &[(i64, &'static str, &'static str)]) -> Self {
        self.mappings = mappings
            .iter()
            .map(|&(value, text, color)| Mapping { value, text, color })
            .collect();
        self
    }

    /// Relative time override, e.g. `now/M`.
    pub(crate) fn time_from(mut self, from: &'static str) -> Self {
        self.time_from = Some(from);
        self
    }

    /// Makes every target an instant query.
    pub(crate) fn instant(mut self) -> Self {
        for target in &mut self.targets {
            target.instant = true;
        }
        self
    }

    /// Stacks the series.
    pub(crate) fn stacked(mut self) -> Self {
        self.stacked = true;
        self
    }

    /// Links the panel to another dashboard.
    pub(crate) fn link_to(mut self, uid: &str, title: &str) -> Self {
        self.links.push(Link {
            title: format!("Open {title}"),
            url: format!("/d/{uid}"),
            tooltip: String::new(),
        });
        self
    }
}

/// Places panels left to right on the 24-column grid, wrapping lines, under row headers;
/// assigns panel ids in reading order.
#[derive(Debug, Default)]
pub(crate) struct Layout {
    panels: Vec<Panel>,
    x: u32,
    y: u32,
    line_height: u32,
}

impl Layout {
    pub(crate) fn new() -> Self {
        Layout::default()
    }

    fn new_line(&mut self) {
        if self.x > 0 {
            self.y += self.line_height;
            self.x = 0;
            self.line_height = 0;
        }
    }

    /// Starts a row: a full-width header on a new line.
    pub(crate) fn row(&mut self, title: &str) {
        self.new_line();
        let mut row = panel(PanelKind::Row, title, Unit::State, "", Vec::new(), (24, 1));
        row.grid.y = self.y;
        row.id = self.panels.len() as u32 + 1;
        self.panels.push(row);
        self.y += 1;
    }

    /// Adds a panel after the previous one, on a new line if it does not fit.
    pub(crate) fn add(&mut self, mut panel: Panel) {
        assert!(panel.grid.w <= 24, "{} is wider than the grid", panel.title);
        if self.x + panel.grid.w > 24 {
            self.new_line();
        }
        panel.grid.x = self.x;
        panel.grid.y = self.y;
        panel.id = self.panels.len() as u32 + 1;
        self.x += panel.grid.w;
        self.line_height = self.line_height.max(panel.grid.h);
        self.panels.push(panel);
    }

    pub(crate) fn finish(self) -> Vec<Panel> {
        self.panels
    }
}

// --- shared pieces -------------------------------------------------------------------------

/// The `provider` variable: providers that have had inference traffic.
pub(crate) fn provider_variable() -> Variable {
    Variable::Query {
        name: "provider",
        label: "Provider",
        query: format!(
            "label_values({}, provider)",
            gatewayz_registry::catalogue::MODEL_INFERENCE_REQUESTS.name
        ),
    }
}

/// The `model` variable, chained on the selected providers.
pub(crate) fn model_variable() -> Variable {
    Variable::Query {
        name: "model",
        label: "Model",
        query: format!(
            "label_values({}{{provider=~\"$provider\"}}, model)",
            gatewayz_registry::catalogue::MODEL_INFERENCE_REQUESTS.name
        ),
    }
}

/// Matchers for the `provider` variable.
pub(crate) const BY_PROVIDER: &str = r#"provider=~"$provider""#;
/// Matchers for the `provider` and `model` variables.
pub(crate) const BY_PROVIDER_MODEL: &str = r#"provider=~"$provider", model=~"$model""#;
/// The rate window of every dashboard rate.
pub(crate) const RATE: &str = "$__rate_interval";

/// The Overview's uid, linked from every other dashboard.
pub(crate) const OVERVIEW_UID: &str = "gatewayz-overview";

/// Links of a detailed dashboard: back to the Overview, and the menu of all gatewayz dashboards.
pub(crate) fn detail_links() -> Vec<Link> {
    vec![
        Link {
            title: "Overview".to_owned(),
            url: format!("/d/{OVERVIEW_UID}"),
            tooltip: "Back to the gatewayz overview".to_owned(),
        },
        Link {
            title: "Gatewayz dashboards".to_owned(),
            url: String::new(),
            tooltip: "Every gatewayz dashboard".to_owned(),
        },
    ]
}

/// Health score colours, from the health tracker's default thresholds: below 0.5 unavailable
/// (red), below 0.8 degraded (orange), healthy (green) above.
pub(crate) const HEALTH_THRESHOLDS: &[(f64, &str)] = &[(0.5, "orange"), (0.8, "green")];

/// Error ratio colours: green below 5 %, orange below 25 %, red above (the error-surge alert).
pub(crate) const ERROR_THRESHOLDS: &[(f64, &str)] = &[
    (0.05, "orange"),
    (crate::rules::thresholds::ERROR_RATIO, "red"),
];
