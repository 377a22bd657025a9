//! Static files under `--root`: types, dates, ranges, escapes, and a
//! download far larger than the output limit to a client that reads slowly.

mod common;

use std::io::Read;
use std::path::Path;
use std::time::{Duration, SystemTime};

use common::{get, pattern, start_with, start_with_config, Raw, TempDir, SLOW_READ_PAUSE};
use evloop_tests::Server;
use http::{Http, Settings};

fn serve(root: &Path) -> Server<Http> {
    start_with(Settings { root: Some(root.to_path_buf()), ..Settings::default() })
}

fn site(label: &str) -> TempDir {
    let dir = TempDir::new(label);
    std::fs::write(dir.path().join("index.html"), "<h1>hi</h1>\n").unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::fs::write(dir.path().join("sub/data.bin"), pattern(1000)).unwrap();
    dir
}

#[test]
fn file_is_served_with_the_type_its_extension_gives_and_last_modified() {
    let dir = site("types");
    let server = serve(dir.path());
    let mut raw = Raw::connect(server.addr);
    raw.send(&get("/static/index.html"));
    let response = raw.response();
    assert_eq!((response.status, response.text().as_str()), (200, "<h1>hi</h1>\n"));
    assert_eq!(response.header("content-type"), Some("text/html"));
    let modified = response.header("last-modified").expect("Last-Modified");
    assert!(httpdate::parse_http_date(modified).is_ok(), "Last-Modified {modified:?} is an HTTP date");
    raw.send(&get("/static/sub/data.bin"));
    let response = raw.response();
    assert_eq!(response.header("content-type"), Some("application/octet-stream"));
    assert!(response.body == pattern(1000), "the binary file's bytes");
}

#[test]
fn if_modified_since_the_last_modification_is_304_without_a_body() {
    let dir = site("ims");
    let server = serve(dir.path());
    let mut raw = Raw::connect(server.addr);
    let later = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(3600));
    raw.send(format!("GET /static/index.html HTTP/1.1\r\nHost: t\r\nIf-Modified-Since: {later}\r\n\r\n").as_bytes());
    let response = raw.response();
    assert_eq!(response.status, 304);
    let earlier = "Thu, 01 Jan 1970 00:00:00 GMT";
    raw.send(format!("GET /static/index.html HTTP/1.1\r\nHost: t\r\nIf-Modified-Since: {earlier}\r\n\r\n").as_bytes());
    assert_eq!(raw.response().status, 200, "modified since 1970");
}

#[test]
fn single_range_is_206_with_content_range_and_past_the_end_416() {
    let dir = site("range");
    let server = serve(dir.path());
    let mut raw = Raw::connect(server.addr);
    raw.send(b"GET /static/sub/data.bin HTTP/1.1\r\nHost: t\r\nRange: bytes=10-19\r\n\r\n");
    let response = raw.response();
    assert_eq!(response.status, 206);
    assert_eq!(response.header("content-range"), Some("bytes 10-19/1000"));
    assert_eq!(response.body, pattern(1000)[10..20].to_vec());
    raw.send(b"GET /static/sub/data.bin HTTP/1.1\r\nHost: t\r\nRange: bytes=-5\r\n\r\n");
    assert_eq!(raw.response().body, pattern(1000)[995..].to_vec(), "the last 5 bytes");
    raw.send(b"GET /static/sub/data.bin HTTP/1.1\r\nHost: t\r\nRange: bytes=5000-\r\n\r\n");
    let response = raw.response();
    assert_eq!((response.status, response.header("content-range")), (416, Some("bytes */1000")));
    raw.expect_open();
}

#[test]
fn dot_dot_segments_raw_or_encoded_are_refused() {
    let dir = site("dots");
    let server = serve(dir.path());
    for path in ["/static/../Cargo.toml", "/static/sub/../../x", "/static/%2e%2e/x", "/static/sub/%2E%2E%2F%2e%2e%2fx"]
    {
        let mut raw = Raw::connect(server.addr);
        raw.send(&get(path));
        assert_eq!(raw.response().status, 400, "{path} escapes the root");
        raw.expect_closed();
    }
}

#[test]
fn symlink_out_of_the_root_is_403_and_one_inside_is_served() {
    let dir = site("links");
    let outside = TempDir::new("outside");
    std::fs::write(outside.path().join("secret"), "secret").unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret"), dir.path().join("out")).unwrap();
    std::os::unix::fs::symlink(dir.path().join("index.html"), dir.path().join("in")).unwrap();
    let server = serve(dir.path());
    let mut raw = Raw::connect(server.addr);
    raw.send(&get("/static/out"));
    assert_eq!(raw.response().status, 403, "a symlink out of the root");
    raw.send(&get("/static/in"));
    assert_eq!(raw.response().text(), "<h1>hi</h1>\n", "a symlink inside the root");
}

#[test]
fn missing_file_and_directory_are_404() {
    let dir = site("missing");
    let server = serve(dir.path());
    let mut raw = Raw::connect(server.addr);
    raw.send(&get("/static/nope.txt"));
    assert_eq!(raw.response().status, 404);
    raw.send(&get("/static/sub"));
    assert_eq!(raw.response().status, 404, "a directory");
    raw.expect_open();
}

#[test]
fn download_larger_than_the_output_limit_reaches_a_slow_reader_whole() {
    let dir = TempDir::new("download");
    let size = 8 * 1024 * 1024;
    std::fs::write(dir.path().join("big.bin"), pattern(size)).unwrap();
    let settings = Settings { root: Some(dir.path().to_path_buf()), ..Settings::default() };
    // 256 KiB of queued output closes the connection (OutputLimit): a
    // download that completes never held more.
    let config = evloop::Config { max_output_bytes: 256 * 1024, ..settings.loop_config() };
    let server = start_with_config(settings, config);
    let mut raw = Raw::connect(server.addr);
    raw.send(&[get("/static/big.bin"), get("/json")].concat());
    let mut head = [0u8; 1];
    let mut header = Vec::new();
    while !header.ends_with(b"\r\n\r\n") {
        raw.stream().read_exact(&mut head).expect("the response head");
        header.push(head[0]);
    }
    assert!(header.starts_with(b"HTTP/1.1 200 OK"), "{}", String::from_utf8_lossy(&header));
    // Read slowly, 16 KiB at a time, checking every byte.
    let expected = pattern(size);
    let mut got = 0;
    let mut buf = vec![0; 16 * 1024];
    while got < size {
        let want = buf.len().min(size - got);
        let n = raw.stream().read(&mut buf[..want]).expect("the download continues");
        assert!(n > 0, "end of file after {got} of {size} bytes");
        assert!(buf[..n] == expected[got..got + n], "wrong bytes at offset {got}");
        got += n;
        std::thread::sleep(SLOW_READ_PAUSE);
    }
    let json = raw.response();
    assert_eq!(json.status, 200, "the request pipelined behind the download");
    let (_, stats) = server.stop();
    assert_eq!(stats.closed(evloop::CloseReason::OutputLimit), 0, "the download never passed the output limit");
}
