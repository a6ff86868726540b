//! The dashboard in a real headless browser (Debian's `chromium`, which
//! `.ci/run` installs), offline and live: it renders, its cards show the
//! source's totals as worked out independently, filters in the address
//! apply, no label reaches past its chart, and a screenshot is kept at
//! `target/tmp/dashboard.png`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::Project;
use crate::common::oracle::{self, Sale};

fn chromium() -> PathBuf {
    let path = std::env::var_os("STRATA_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    assert!(
        path.is_file(),
        "{} is missing: install Debian's chromium package (.ci/run does)",
        path.display()
    );
    path
}

fn browser(profile: &Path) -> Command {
    let mut c = Command::new(chromium());
    // As the workplace notes say: no sandbox as root, and no background
    // networking, which a closed network refuses many times over.
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,1100",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    c
}

/// The page's DOM once its script has run (and, live, its requests have
/// been answered).
fn dom(url: &str, profile: &Path) -> String {
    let out = browser(profile)
        // Virtual time runs on while requests are pending, so the DOM is
        // taken after the live page's answers have been drawn.
        .arg("--virtual-time-budget=30000")
        .arg("--dump-dom")
        .arg(url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The text and `data-*` value of the card with this id.
fn card(dom: &str, id: &str, data: &str) -> (String, String) {
    let at = dom
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in the page"));
    let tag_end = at + dom[at..].find('>').unwrap();
    let tag = &dom[at..tag_end];
    let value = tag
        .split(&format!("data-{data}=\""))
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or_else(|| panic!("#{id} has no data-{data}: {tag}"))
        .to_string();
    let text = dom[tag_end + 1..].split('<').next().unwrap().to_string();
    (text, value)
}

fn grouped(cents: i64) -> String {
    let whole = (cents / 100).to_string();
    let mut out = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    format!("R$ {out}.{:02}", cents % 100)
}

/// A body attribute the page sets (`data-<name>`).
fn body_data(dom: &str, name: &str) -> Option<String> {
    let at = dom.find("<body")?;
    let tag = &dom[at..at + dom[at..].find('>')?];
    tag.split(&format!("data-{name}=\""))
        .nth(1)
        .and_then(|s| s.split('"').next())
        .map(str::to_string)
}

/// What the page must show for `sales`: total, items and count on the
/// cards, and every label inside its chart.
fn assert_cards(dom: &str, sales: &[&Sale], what: &str) {
    assert_eq!(
        body_data(dom, "ready").as_deref(),
        Some("true"),
        "{what}: the script did not finish: {:?}",
        body_data(dom, "error")
    );
    let cents: i64 = sales.iter().map(|s| s.cents).sum();
    let items: i64 = sales.iter().map(|s| s.quantity).sum();
    assert_eq!(
        card(dom, "card-total-sales", "cents"),
        (grouped(cents), cents.to_string()),
        "{what}"
    );
    assert_eq!(
        card(dom, "card-items-sold", "items").1,
        items.to_string(),
        "{what}"
    );
    let (avg, count) = card(dom, "card-average-ticket", "sales");
    assert_eq!(count, sales.len().to_string(), "{what}");
    let average = (cents as f64 / sales.len() as f64).round() as i64;
    assert_eq!(avg, grouped(average), "{what}");
    assert!(dom.contains("<polyline"), "{what}: no sales-over-time line");
    assert!(
        dom.matches("<rect").count() >= 10,
        "{what}: no product bars"
    );
    assert_eq!(
        body_data(dom, "clipped-labels").as_deref(),
        Some("0"),
        "{what}: labels reach past their charts"
    );
}

/// The generated source: 3,000 sales of 300 products, more than the
/// offline page keeps apart.
fn generated(p: &Project) -> (String, Vec<Sale>) {
    p.strata_ok(&[
        "fixtures", "--sales", "3000", "--seed", "7", "--out", "many.csv",
    ]);
    let path = p.path().join("many.csv");
    let sales = oracle::clean_sales(&std::fs::read_to_string(&path).unwrap());
    (path.display().to_string(), sales)
}

#[test]
fn the_offline_page_holds_monthly_groups_and_renders_the_sources_totals() {
    let p = Project::new();
    let (source, sales) = generated(&p);
    p.strata_ok(&["run", "--no-report", "--no-tests", "--source", &source]);
    p.strata_ok(&["dashboard", "--out", "dashboard.html"]);
    let page = p.path().join("dashboard.html");
    let html = std::fs::read_to_string(&page).unwrap();
    for loads in ["src=\"http", "href=\"http", "url(http", "@import", "<link"] {
        assert!(
            !html.contains(loads),
            "the page must load nothing from the network: {loads}"
        );
    }
    // Its data: months x (50 products + the others) x regions, whatever
    // the number of sales.
    let json = html
        .split("<script id=\"strata-data\" type=\"application/json\">")
        .nth(1)
        .and_then(|s| s.split("</script>").next())
        .unwrap()
        .replace("<\\/", "</");
    let data: serde_json::Value = serde_json::from_str(&json).unwrap();
    let products = data["embedded"]["products"].as_array().unwrap();
    assert_eq!(products.len(), 51, "the top 50 and the others");
    assert!(products.contains(&serde_json::json!("Other products")));
    let months: std::collections::BTreeSet<String> = sales
        .iter()
        .map(|s| s.date.format("%Y-%m").to_string())
        .collect();
    let regions: std::collections::BTreeSet<&str> =
        sales.iter().map(|s| s.region.as_str()).collect();
    let rows = data["embedded"]["rows"].as_array().unwrap();
    assert!(rows.len() <= months.len() * 51 * regions.len());
    assert!(
        data["granularity"]
            .as_str()
            .unwrap()
            .contains("monthly totals by product and region"),
        "the page says what it holds"
    );

    let profile = p.path().join("chromium-profile");
    let url = format!("file://{}", page.display());
    let all: Vec<&Sale> = sales.iter().collect();
    assert_cards(&dom(&url, &profile), &all, "all sales");
    assert!(
        dom(&url, &profile).contains("Other products"),
        "the page names what it summed"
    );

    // A region and a year from the address (whole months, as the page holds).
    let sul: Vec<&Sale> = sales
        .iter()
        .filter(|s| s.region == "Sul" && s.date.format("%Y").to_string() == "2023")
        .collect();
    let filtered = dom(
        &format!("{url}#region=Sul&from=2023-01-01&to=2023-12-31"),
        &profile,
    );
    assert_cards(&filtered, &sul, "Sul in 2023");

    let shot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dashboard.png");
    let out = browser(&profile)
        .arg(format!("--screenshot={}", shot.display()))
        .arg(&url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 20_000,
        "screenshot at {}",
        shot.display()
    );
}

#[test]
fn the_live_page_asks_the_server_and_its_filtered_totals_are_the_sources() {
    let p = Project::new();
    let (source, sales) = generated(&p);
    p.strata_ok(&["run", "--no-report", "--no-tests", "--source", &source]);
    let server = crate::serve::Server::start(&p, &[]);
    let profile = p.path().join("chromium-profile");
    let url = format!("http://127.0.0.1:{}/", server.http);

    let all: Vec<&Sale> = sales.iter().collect();
    let page = dom(&url, &profile);
    assert_cards(&page, &all, "all sales, live");
    assert!(page.contains("live: every filter is answered by the server"));

    // Days, not months: the server filters over gold.
    let from = chrono::NaiveDate::from_ymd_opt(2023, 3, 15).unwrap();
    let to = chrono::NaiveDate::from_ymd_opt(2023, 11, 20).unwrap();
    let sul: Vec<&Sale> = sales
        .iter()
        .filter(|s| s.region == "Sul" && s.date >= from && s.date <= to)
        .collect();
    let filtered = dom(&format!("{url}#region=Sul&from={from}&to={to}"), &profile);
    assert_cards(&filtered, &sul, "Sul, 2023-03-15 to 2023-11-20, live");
}
