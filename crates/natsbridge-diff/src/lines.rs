//! The line a JSON pointer names in a YAML (block style) or pretty-printed JSON document,
//! for annotations and SARIF regions. A best effort: a place it cannot find (flow style, a
//! multi-document file) has no line, and the result names the file alone.

/// 1-based line of `pointer` (`/components/schemas/State`) in `text`.
pub(crate) fn line_of(text: &str, pointer: &str) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let (mut from, mut parent_indent) = (0usize, None::<usize>);
    let mut found = None;
    for token in pointer.split('/').skip(1) {
        let token = token.replace("~1", "/").replace("~0", "~");
        let (line, indent) = find(&lines, from, parent_indent, &token)?;
        found = Some(line);
        from = line + 1;
        parent_indent = Some(indent);
    }
    found.map(|l| l + 1)
}

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// The first line at or after `from`, inside the block deeper than `parent`, that holds the
/// key `token` (or, for a number, that sequence item), with its key's indentation.
fn find(lines: &[&str], from: usize, parent: Option<usize>, token: &str) -> Option<(usize, usize)> {
    let mut item = 0usize;
    let mut child_indent = None;
    for (i, line) in lines.iter().enumerate().skip(from) {
        let body = line.trim_start();
        // Blank lines, comments and JSON's lone brackets hold no key.
        if body.is_empty()
            || body.starts_with('#')
            || body.trim_end_matches(',').chars().all(|c| "{}[]".contains(c))
        {
            continue;
        }
        let indent = indent_of(line);
        if parent.is_some_and(|p| indent <= p) {
            return None;
        }
        let child = *child_indent.get_or_insert(indent);
        if indent != child {
            continue;
        }
        if let Ok(n) = token.parse::<usize>() {
            if body.starts_with("- ") || body == "-" {
                if item == n {
                    return Some((i, indent + 1));
                }
                item += 1;
            }
            continue;
        }
        let key = body.strip_prefix("- ").unwrap_or(body);
        let key = key.trim_start_matches(['"', '\'']);
        if let Some(rest) = key.strip_prefix(token) {
            let rest = rest.trim_start_matches(['"', '\'']).trim_start();
            if rest.starts_with(':') {
                return Some((i, indent));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::line_of;

    const DOC: &str = r#"asyncapi: 3.0.0
channels:
  alerts:
    address: fleet.alerts
components:
  schemas:
    # a comment
    State:
      type: string
    Position:
      properties:
        state:
          $ref: '#/components/schemas/State'
operations:
  x:
    messages:
      - $ref: a
      - $ref: b
"#;

    #[test]
    fn pointers_find_their_lines_and_unknown_places_find_none() {
        assert_eq!(line_of(DOC, "/channels/alerts"), Some(3));
        assert_eq!(line_of(DOC, "/components/schemas/State"), Some(8));
        assert_eq!(line_of(DOC, "/components/schemas/Position/properties/state"), Some(12));
        assert_eq!(line_of(DOC, "/operations/x/messages/1"), Some(18));
        assert_eq!(line_of(DOC, "/components/schemas/Missing"), None);
        assert_eq!(line_of(DOC, "/channels/address"), None, "a deeper key of another block");
        let json = "{\n  \"channels\": {\n    \"a.b\": {\n      \"address\": \"x\"\n    }\n  }\n}\n";
        assert_eq!(line_of(json, "/channels/a.b/address"), Some(4));
    }
}
