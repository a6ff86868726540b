//! The dashboard in a real headless browser (Debian's `chromium`, which
//! `.ci/run` installs): it renders, its cards show the fixture's totals as
//! worked out independently, filters in the address apply, and a screenshot
//! is kept at `target/tmp/dashboard.png`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{Project, oracle};

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

fn dom(page: &Path, hash: &str, profile: &Path) -> String {
    let out = browser(profile)
        .arg("--dump-dom")
        .arg(format!("file://{}{hash}", page.display()))
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

#[test]
fn the_dashboard_renders_the_fixtures_totals_in_a_real_browser() {
    let p = Project::new();
    p.strata_ok(&["run", "--no-report", "--no-tests"]);
    p.strata_ok(&["dashboard", "--out", "dashboard.html"]);
    let page = p.path().join("dashboard.html");
    let html = std::fs::read_to_string(&page).unwrap();
    for loads in ["src=\"http", "href=\"http", "url(http", "@import", "<link"] {
        assert!(
            !html.contains(loads),
            "the page must load nothing from the network: {loads}"
        );
    }
    let profile = p.path().join("chromium-profile");

    let fixture =
        std::fs::read_to_string(crate::common::repo().join("fixtures/legacy_sales.csv")).unwrap();
    let sales = oracle::clean_sales(&fixture);
    let cents: i64 = sales.iter().map(|s| s.cents).sum();
    let items: i64 = sales.iter().map(|s| s.quantity).sum();

    let all = dom(&page, "", &profile);
    assert!(
        all.contains("data-ready=\"true\""),
        "the script did not finish"
    );
    assert_eq!(
        card(&all, "card-total-sales", "cents"),
        (grouped(cents), cents.to_string())
    );
    assert_eq!(card(&all, "card-items-sold", "items").1, items.to_string());
    let (avg, count) = card(&all, "card-average-ticket", "sales");
    assert_eq!(count, sales.len().to_string());
    let average = (cents as f64 / sales.len() as f64).round() as i64;
    assert_eq!(avg, grouped(average));
    assert!(all.contains("<polyline"), "no sales-over-time line");
    assert!(all.matches("<rect").count() >= 10, "no product bars");
    assert!(
        all.contains("id=\"health-runs\">1<"),
        "pipeline panel: one run"
    );

    // A region and a date range from the address.
    let sul: Vec<_> = sales
        .iter()
        .filter(|s| s.region == "Sul" && s.date.format("%Y").to_string() == "2023")
        .collect();
    let sul_cents: i64 = sul.iter().map(|s| s.cents).sum();
    let filtered = dom(&page, "#region=Sul&from=2023-01-01&to=2023-12-31", &profile);
    assert_eq!(
        card(&filtered, "card-total-sales", "cents").1,
        sul_cents.to_string()
    );
    assert_eq!(
        card(&filtered, "card-average-ticket", "sales").1,
        sul.len().to_string()
    );

    let shot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dashboard.png");
    let out = browser(&profile)
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", page.display()))
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
