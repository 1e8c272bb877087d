//! The Grafana dashboards, as data: panels, their PromQL targets, variables and links.
//!
//! Each dashboard is written in Rust with small builders (`timeseries`, `stat`, ...) and a
//! computed grid (`Layout`); [`Dashboard::render`] turns it into Grafana's classic JSON model
//! (schemaVersion 39: Grafana 10.3 to 12 load it, newer versions migrate it forward).
//!
//! Conventions every dashboard follows (and the tests check):
//!
//! - a stable `uid` (`<uid prefix>-<name>`), `id: null`, a `datasource` variable of type
//!   `datasource` used by every panel and target as `${datasource}` (never a data source uid);
//! - a variable per label of the deployment's selector (its matcher labels, then `job`), each
//!   offering only the configured value, and a multi-value `instance` variable chained on them;
//!   every selector of every target carries `job="$job"`, the matchers and `instance=~"$instance"`,
//!   so a dashboard never shows another deployment's series, whatever shares the Prometheus;
//! - the `provider` and `model` variables (or `route` on the HTTP dashboard) are multi-value
//!   with "All" = `.*`, and filter every selector of a metric that has that label;
//! - every rate is over `$__rate_interval` (subqueries aside); every panel has a unit and a
//!   description; ratios in 0..1 are shown as `percentunit`, money as `currencyUSD`.

use serde_json::{Map, Value, json};

use crate::{Deployment, expr::Scope, generated_notice};

mod business;
mod cost;
mod models;
mod overview;
mod performance;
mod provider_health;
mod slo;

/// The seven dashboards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Board {
    /// The landing page.
    Overview,
    /// Provider health, circuits, failover.
    ProviderHealth,
    /// Spend.
    CostAnalysis,
    /// Per-model traffic, latency, tokens.
    ModelPerformance,
    /// Customers and consumption.
    Business,
    /// The gateway's own latency.
    Performance,
    /// Service level objectives: error budgets, burn rates, their alerts.
    Slo,
}

impl Board {
    /// Every dashboard, the Overview first.
    pub const ALL: [Board; 7] = [
        Board::Overview,
        Board::Slo,
        Board::ProviderHealth,
        Board::CostAnalysis,
        Board::ModelPerformance,
        Board::Business,
        Board::Performance,
    ];

    /// The uid's suffix after the prefix.
    pub fn slug(self) -> &'static str {
        match self {
            Board::Overview => "overview",
            Board::ProviderHealth => "provider-health",
            Board::CostAnalysis => "cost-analysis",
            Board::ModelPerformance => "model-performance",
            Board::Business => "business",
            Board::Performance => "performance",
            Board::Slo => "slo",
        }
    }

    /// Its JSON file under `grafana/`.
    pub fn file(self) -> &'static str {
        match self {
            Board::Overview => "overview.json",
            Board::ProviderHealth => "provider-health.json",
            Board::CostAnalysis => "cost-analysis.json",
            Board::ModelPerformance => "model-performance.json",
            Board::Business => "business-metrics.json",
            Board::Performance => "performance-latency.json",
            Board::Slo => "slo.json",
        }
    }

    /// Its second tag, after the deployment's.
    fn tag(self) -> &'static str {
        match self {
            Board::Overview => "overview",
            Board::ProviderHealth => "providers",
            Board::CostAnalysis => "cost",
            Board::ModelPerformance => "models",
            Board::Business => "business",
            Board::Performance => "performance",
            Board::Slo => "slo",
        }
    }

    /// What it is for, the question it answers.
    fn summary(self) -> &'static str {
        match self {
            Board::Overview => {
                "The landing page: traffic, errors, latency, spend and provider status of the \
                 deployment at a glance, with links to the five detailed dashboards."
            }
            Board::ProviderHealth => {
                "Is every upstream provider healthy? Health score and status per provider, \
                 availability, error rate, latency percentiles, circuit breakers, failover and \
                 anomalies, across all replicas."
            }
            Board::CostAnalysis => {
                "Where does the money go? Upstream spend per provider and model, its trend, \
                 cost per request and per 1k tokens, month-to-date spend and a month-end \
                 forecast. Times in UTC."
            }
            Board::ModelPerformance => {
                "How does each model perform? Request rate, latency percentiles, error rate, \
                 token usage, time to first token, time per output token and token efficiency \
                 per model."
            }
            Board::Business => {
                "How is the business doing? Active subscriptions, API keys and trials, trial \
                 conversion, churn, net growth and a projection, top-ups, token and credit \
                 consumption, credits charged per dollar of upstream cost. Times in UTC."
            }
            Board::Performance => {
                "Is the gateway itself fast? HTTP latency percentiles, throughput and error \
                 ratio, gateway overhead, database query latency and cache hit ratio."
            }
            Board::Slo => {
                "Do clients get what we promise? Per service level objective (availability of \
                 the client API, time to first token, availability of each model): the error \
                 budget left, the burn rate over every alert window, the SLI over time and the \
                 state of the burn-rate alerts."
            }
        }
    }

    /// Its title, without the `Gatewayz / ` prefix.
    pub fn title(self) -> &'static str {
        match self {
            Board::Overview => "Overview",
            Board::ProviderHealth => "Provider Health",
            Board::CostAnalysis => "Cost Analysis",
            Board::ModelPerformance => "Model Performance",
            Board::Business => "Business Metrics",
            Board::Performance => "Performance & Latency",
            Board::Slo => "Service Levels",
        }
    }
}

/// The uid of `board` in `deployment`'s Grafana: `<uid prefix>-<slug>`.
pub fn uid(deployment: &Deployment, board: Board) -> String {
    format!("{}-{}", deployment.grafana.uid_prefix, board.slug())
}

/// Every dashboard of `deployment`, the Overview first.
pub fn all(deployment: &Deployment) -> Vec<Dashboard> {
    let cx = Context::new(deployment);
    vec![
        overview::dashboard(&cx),
        slo::dashboard(&cx),
        provider_health::dashboard(&cx),
        cost::dashboard(&cx),
        models::dashboard(&cx),
        business::dashboard(&cx),
        performance::dashboard(&cx),
    ]
}

/// What every dashboard of one deployment shares.
pub(crate) struct Context<'a> {
    pub(crate) deployment: &'a Deployment,
    /// Every selector's matchers: the deployment's variables.
    pub(crate) scope: Scope,
    /// The matchers of fleet-wide series (recording rules, `ALERTS`): no `instance`.
    pub(crate) fleet: Scope,
}

impl<'a> Context<'a> {
    fn new(deployment: &'a Deployment) -> Context<'a> {
        Context {
            deployment,
            scope: Scope::dashboard(&deployment.selector),
            fleet: Scope::dashboard_fleet(&deployment.selector),
        }
    }

    pub(crate) fn uid(&self, board: Board) -> String {
        uid(self.deployment, board)
    }

    /// The dashboard's frame: identity, the deployment's variables then `extra`, links.
    pub(crate) fn dashboard(
        &self,
        board: Board,
        extra: Vec<Variable>,
        links: Vec<Link>,
        panels: Vec<Panel>,
    ) -> Dashboard {
        let mut variables = self.deployment_variables();
        variables.extend(extra);
        Dashboard {
            uid: self.uid(board),
            title: format!("Gatewayz / {}", board.title()),
            file: board.file(),
            summary: board.summary(),
            notice: generated_notice(&self.deployment.selector),
            tags: vec![
                self.deployment.grafana.uid_prefix.clone(),
                board.tag().to_owned(),
            ],
            variables,
            links,
            panels,
            timezone: "browser",
        }
    }

    /// `datasource`, one variable per matcher label and `job` (each offering its configured
    /// value only), then `instance`, chained on them.
    fn deployment_variables(&self) -> Vec<Variable> {
        let selector = &self.deployment.selector;
        let build_info = gatewayz_catalogue::BUILD_INFO.name;
        let mut variables = vec![Variable::Datasource {
            default: self.deployment.grafana.datasource.clone(),
        }];
        let matchers = selector
            .matchers
            .iter()
            .map(|(l, v)| (l.as_str(), v.as_str()));
        for (label, value) in matchers.chain([("job", selector.job.as_str())]) {
            variables.push(Variable::Query {
                name: label.to_owned(),
                label: label.to_owned(),
                query: format!(
                    "label_values({build_info}{{{}}}, {label})",
                    selector.promql()
                ),
                selection: Selection::One(value.to_owned()),
            });
        }
        let chained: Vec<String> = selector
            .labels()
            .iter()
            .map(|label| format!("{label}=\"${label}\""))
            .collect();
        variables.push(Variable::Query {
            name: "instance".to_owned(),
            label: "instance".to_owned(),
            query: format!(
                "label_values({build_info}{{{}}}, instance)",
                chained.join(", ")
            ),
            selection: Selection::Many,
        });
        variables
    }

    /// A multi-value variable over `label` of `metric`, within the deployment's scope and
    /// `matchers` (the variables it is chained on).
    pub(crate) fn label_variable(
        &self,
        name: &str,
        label: &str,
        metric: &gatewayz_catalogue::MetricDef,
        matchers: &str,
    ) -> Variable {
        Variable::Query {
            name: name.to_owned(),
            label: label.to_owned(),
            query: format!("label_values({}, {name})", self.scope.sel(metric, matchers)),
            selection: Selection::Many,
        }
    }

    /// The `provider` variable: providers that have had inference traffic.
    pub(crate) fn provider_variable(&self) -> Variable {
        self.label_variable(
            "provider",
            "Provider",
            &gatewayz_catalogue::MODEL_INFERENCE_REQUESTS,
            "",
        )
    }

    /// The `model` variable of the per-model objective: models clients asked for.
    pub(crate) fn requested_model_variable(&self) -> Variable {
        self.label_variable("model", "Model", &gatewayz_catalogue::MODEL_REQUESTS, "")
    }

    /// The `model` variable, chained on the selected providers.
    pub(crate) fn model_variable(&self) -> Variable {
        self.label_variable(
            "model",
            "Model",
            &gatewayz_catalogue::MODEL_INFERENCE_REQUESTS,
            BY_PROVIDER,
        )
    }

    /// Links of a detailed dashboard: back to the Overview, and the menu of the deployment's
    /// dashboards.
    pub(crate) fn detail_links(&self) -> Vec<Link> {
        vec![
            Link {
                title: "Overview".to_owned(),
                url: format!("/d/{}", self.uid(Board::Overview)),
                tooltip: "Back to the gatewayz overview".to_owned(),
            },
            self.menu_link(),
        ]
    }

    /// The menu of every dashboard of the deployment (by its tag).
    pub(crate) fn menu_link(&self) -> Link {
        Link {
            title: "Gatewayz dashboards".to_owned(),
            url: String::new(),
            tooltip: "Every gatewayz dashboard of this deployment".to_owned(),
        }
    }

    /// Health score colours: below 0.5 unavailable (red, the health tracker's default), below
    /// the degraded alert's score orange, green above.
    pub(crate) fn health_thresholds(&self) -> Vec<(f64, &'static str)> {
        let degraded = self.deployment.alerts.provider_health_degraded.score;
        vec![(0.5_f64.min(degraded), "orange"), (degraded, "green")]
    }

    /// Error ratio colours: green below 5 %, orange below the error-surge alert's ratio, red
    /// above.
    pub(crate) fn error_thresholds(&self) -> Vec<(f64, &'static str)> {
        let surge = self.deployment.alerts.provider_error_surge.ratio;
        vec![(0.05_f64.min(surge), "orange"), (surge, "red")]
    }
}

/// One Grafana dashboard.
#[derive(Debug, Clone)]
pub struct Dashboard {
    /// Stable uid: the dashboard's URL is `/d/<uid>`.
    pub uid: String,
    /// Title shown in Grafana.
    pub title: String,
    /// File name under `grafana/`.
    pub file: &'static str,
    /// What the dashboard is for (the JSON description adds the generated-file notice).
    pub summary: &'static str,
    /// The generated-file notice.
    notice: String,
    /// Tags, the deployment's (its uid prefix) first.
    pub tags: Vec<String>,
    /// Template variables, `datasource` first.
    pub variables: Vec<Variable>,
    /// Links shown at the top of the dashboard.
    pub links: Vec<Link>,
    /// Every panel, rows included, laid out, in reading order.
    pub panels: Vec<Panel>,
    /// Grafana's time zone for the dashboard: `browser` (the viewer's), or `utc` where months
    /// and days must begin when Prometheus's and the reports' do.
    pub timezone: &'static str,
}

impl Dashboard {
    /// Shows times, and begins days and months, in UTC rather than the browser's time zone.
    pub(crate) fn in_utc(mut self) -> Dashboard {
        self.timezone = "utc";
        self
    }
}

/// A template variable.
#[derive(Debug, Clone, PartialEq)]
pub enum Variable {
    /// `datasource`: picks a Prometheus data source.
    Datasource {
        /// The data source selected by default (its name).
        default: String,
    },
    /// A variable filled by a `label_values(...)` query.
    Query {
        /// Variable name, used as `$name` in queries.
        name: String,
        /// Label shown in the variable bar.
        label: String,
        /// The Grafana query, e.g. `label_values(model_inference_requests_total{...}, provider)`.
        query: String,
        /// One value, or several with "All".
        selection: Selection,
    },
}

/// How a query variable is selected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// A single value, this one by default: the deployment's `job` and matcher labels. Queries
    /// match it with `=`.
    One(String),
    /// Several values, "All" (`.*`) by default. Queries match it with `=~`.
    Many,
}

impl Variable {
    /// The variable's name.
    pub fn name(&self) -> &str {
        match self {
            Variable::Datasource { .. } => "datasource",
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
    /// A multiplier, e.g. a burn rate (`x`).
    Times,
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
            Unit::Times => "x",
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
        format!("{} {}", self.notice, self.summary)
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
            "links": self.links.iter().map(|l| dashboard_link(l, &self.tags[0])).collect::<Vec<_>>(),
            "panels": self.panels.iter().map(Panel::to_json).collect::<Vec<_>>(),
            "refresh": "30s",
            "schemaVersion": 39,
            "tags": self.tags,
            "templating": {"list": self.variables.iter().map(Variable::to_json).collect::<Vec<_>>()},
            "time": {"from": "now-6h", "to": "now"},
            "timepicker": {},
            "timezone": self.timezone,
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

fn dashboard_link(link: &Link, tag: &str) -> Value {
    if link.url.is_empty() {
        json!({
            "asDropdown": true,
            "icon": "external link",
            "includeVars": true,
            "keepTime": true,
            "tags": [tag],
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
            Variable::Datasource { default } => json!({
                "current": {"selected": true, "text": default, "value": default},
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
            Variable::Query {
                name,
                label,
                query,
                selection: Selection::One(value),
            } => json!({
                "current": {"selected": true, "text": value, "value": value},
                "datasource": datasource_ref(),
                "definition": query,
                "hide": 0,
                "includeAll": false,
                "label": label,
                "multi": false,
                "name": name,
                "options": [],
                "query": query,
                "refresh": 1,
                "regex": "",
                "skipUrlSync": false,
                "sort": 1,
                "type": "query",
            }),
            Variable::Query {
                name,
                label,
                query,
                selection: Selection::Many,
            } => json!({
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
                .map(|l| json!({"targetBlank": false, "title": l.title, "url": format!("{}?${{__url_time_range}}&${{datasource:queryparam}}&${{instance:queryparam}}", l.url)}))
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

/// Matchers for the `provider` variable.
pub(crate) const BY_PROVIDER: &str = r#"provider=~"$provider""#;
/// Matchers for the `provider` and `model` variables.
pub(crate) const BY_PROVIDER_MODEL: &str = r#"provider=~"$provider", model=~"$model""#;
/// The rate window of every dashboard rate.
pub(crate) const RATE: &str = "$__rate_interval";
