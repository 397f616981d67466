//! Duplicate keys in catalog YAML, found before serde reads the file.
//!
//! serde_yaml hands every key of a mapping to the map being built, which keeps the last: a second `dns:` step
//! silently replaced the first, a second `main:` environment silently changed its kind (issue 8). Struct fields
//! are caught by serde, but without the lines. This walks the YAML events (with their positions) and refuses any
//! mapping, at any depth, that gives a key twice, naming both lines.

use std::collections::HashMap;
use yaml_rust2::parser::{Event, Parser};

/// A key given twice in one mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Duplicate {
    /// Where the key is, as the catalog errors spell fields (`steps.dns`, `environments.main.kind`).
    pub field: String,
    pub key: String,
    pub first_line: usize,
    pub second_line: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    Duplicate(Duplicate),
    /// The event parser could not read the text (the caller lets serde_yaml explain, and refuses if it did not).
    Unreadable(String),
}

enum Frame {
    Map {
        path: String,
        keys: HashMap<String, usize>,
        /// The key whose value comes next, or `None` when a key comes next.
        key: Option<String>,
    },
    Seq {
        path: String,
        index: usize,
    },
    /// A mapping or sequence used as a key: skipped (serde refuses it as a name anyway).
    ComplexKey {
        depth: usize,
    },
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// The first key given twice in one mapping, if any.
pub fn check(text: &str) -> Result<(), Finding> {
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Frame> = Vec::new();
    loop {
        let (event, mark) = parser
            .next_token()
            .map_err(|e| Finding::Unreadable(e.to_string()))?;
        let line = mark.line();
        if let Some(Frame::ComplexKey { depth }) = stack.last_mut() {
            match event {
                Event::MappingStart(..) | Event::SequenceStart(..) => *depth += 1,
                Event::MappingEnd | Event::SequenceEnd => *depth -= 1,
                _ => {}
            }
            if matches!(stack.last(), Some(Frame::ComplexKey { depth: 0 })) {
                stack.pop();
                if let Some(Frame::Map { key, .. }) = stack.last_mut() {
                    *key = Some(format!("?complex key at line {line}"));
                }
            }
            continue;
        }
        match event {
            Event::StreamEnd => return Ok(()),
            Event::StreamStart | Event::Nothing | Event::DocumentEnd => {}
            Event::DocumentStart => stack.clear(),
            Event::Scalar(..) | Event::Alias(..) if expects_key(&stack) => {
                let name = match &event {
                    Event::Scalar(v, ..) => v.clone(),
                    Event::Alias(id) => format!("*alias{id}"),
                    _ => unreachable!("matched above"),
                };
                if let Some(Frame::Map { path, keys, key }) = stack.last_mut() {
                    if let Some(first) = keys.get(&name) {
                        return Err(Finding::Duplicate(Duplicate {
                            field: join(path, &name),
                            key: name,
                            first_line: *first,
                            second_line: line,
                        }));
                    }
                    keys.insert(name.clone(), line);
                    *key = Some(name);
                }
            }
            Event::Scalar(..) | Event::Alias(..) => value_done(&mut stack),
            Event::MappingStart(..) | Event::SequenceStart(..) if expects_key(&stack) => {
                stack.push(Frame::ComplexKey { depth: 1 });
            }
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                let path = child_path(&stack);
                stack.push(if matches!(event, Event::MappingStart(..)) {
                    Frame::Map {
                        path,
                        keys: HashMap::new(),
                        key: None,
                    }
                } else {
                    Frame::Seq { path, index: 0 }
                });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                stack.pop();
                value_done(&mut stack);
            }
        }
    }
}

fn expects_key(stack: &[Frame]) -> bool {
    matches!(stack.last(), Some(Frame::Map { key: None, .. }))
}

/// The path of a value about to start under the top frame.
fn child_path(stack: &[Frame]) -> String {
    match stack.last() {
        Some(Frame::Map {
            path, key: Some(k), ..
        }) => join(path, k),
        Some(Frame::Seq { path, index }) => format!("{path}[{index}]"),
        _ => String::new(),
    }
}

/// A value is complete: its mapping expects a key again, its sequence moves on.
fn value_done(stack: &mut [Frame]) {
    match stack.last_mut() {
        Some(Frame::Map { key, .. }) => *key = None,
        Some(Frame::Seq { index, .. }) => *index += 1,
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dup(text: &str) -> Duplicate {
        match check(text) {
            Err(Finding::Duplicate(d)) => d,
            other => panic!("expected a duplicate in {text:?}, got {other:?}"),
        }
    }

    #[test]
    fn a_repeated_key_is_found_with_its_path_and_both_lines() {
        let d = dup("a: 1\nb:\n  c: 1\n  d: 2\n  c: 3\n");
        assert_eq!(
            (d.field.as_str(), d.first_line, d.second_line),
            ("b.c", 3, 5)
        );
        let d = dup("list:\n  - {x: 1, y: 2}\n  - {x: 1, x: 2}\n");
        assert_eq!(d.field, "list[1].x");
        let d = dup("a: 1\n\"a\": 2\n");
        assert_eq!((d.first_line, d.second_line), (1, 2));
    }

    #[test]
    fn keys_repeated_in_different_mappings_are_not_duplicates() {
        check("a: {x: 1}\nb: {x: 1}\nc: [{x: 1}, {x: 2}]\n? [k]\n: v\nd: &anchor {x: 1}\ne: *anchor\n").unwrap();
    }
}
