//! What a hostile local process sends, from the hardening review (issue 9): each answer is a
//! clear JSON error, and nothing it sends is taken for something else.

use cec_e2e::Node;
use cec_e2e::fixtures::event_body;

/// Trailing bytes, an array for an object and look-alike media types are refused.
#[test]
fn the_json_reader_refuses_what_is_not_one_object() {
    let node = Node::start();
    let body = event_body("e1").to_string();
    let post = |raw: String, ct: &str| node.authed("POST", "/v1/events").header("content-type", ct).body(raw).send();
    post(format!("{body}{{\"id\":\"X\"}} <html>"), "application/json").expect_error(400, "invalid_json");
    post(format!("{body} x"), "application/json").expect_error(400, "invalid_json");
    post(r#"["e2", "t"]"#.into(), "application/json").expect_error(400, "invalid_json");
    for ct in ["application/jsonp", "application/json-patch", "text/plain", "text/json"] {
        post(body.clone(), ct).expect_error(415, "unsupported_media_type");
    }
    node.get("/v1/events/X").expect_error(404, "not_found");
    post(body.clone(), "application/json; charset=utf-8").expect(201);
    post(format!("\n{body}\r\n "), "Application/JSON").expect(200);
}
