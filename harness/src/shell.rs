//! Shell-like words: splitting `--supervisor 'CMD ARGS'`, quoting replay lines,
//! and the words of a command line for a trigger and a duration. Both the
//! matrix and [`crate::replay`] write and read command lines through it.
//!
//! The subset of POSIX `sh` word splitting a command line needs: blanks separate
//! words; `'...'` is literal; `"..."` is literal except `\"`, `\\`, `\$` and `` \` ``;
//! outside quotes `\` escapes the next character. No expansions of any kind.

use std::time::Duration;

use crate::trial::Trigger;

/// A `--supervisor` value that is not a well-formed command line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SplitError {
    /// A quote was opened and never closed.
    #[error("unterminated {quote} quote starting at byte {offset}")]
    Unterminated {
        /// `single` or `double`.
        quote: &'static str,
        /// Byte offset of the opening quote.
        offset: usize,
    },
    /// The line ends with a lone backslash.
    #[error("trailing backslash")]
    TrailingBackslash,
    /// No words at all.
    #[error("empty command")]
    Empty,
}

/// Splits a command line into words, as `sh` would without expansions.
pub fn split(line: &str) -> Result<Vec<String>, SplitError> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            ' ' | '\t' | '\n' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some((_, '\'')) => break,
                        Some((_, c)) => word.push(c),
                        None => {
                            return Err(SplitError::Unterminated {
                                quote: "single",
                                offset: i,
                            });
                        }
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some((_, '"')) => break,
                        Some((_, '\\')) => match chars.next() {
                            Some((_, c @ ('"' | '\\' | '$' | '`'))) => word.push(c),
                            Some((_, '\n')) => {}
                            Some((_, c)) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => {
                                return Err(SplitError::Unterminated {
                                    quote: "double",
                                    offset: i,
                                });
                            }
                        },
                        Some((_, c)) => word.push(c),
                        None => {
                            return Err(SplitError::Unterminated {
                                quote: "double",
                                offset: i,
                            });
                        }
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some((_, '\n')) => {}
                    Some((_, c)) => word.push(c),
                    None => return Err(SplitError::TrailingBackslash),
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    if words.is_empty() {
        return Err(SplitError::Empty);
    }
    Ok(words)
}

/// Quotes one word so `sh` reads it back unchanged; plain words stay bare.
pub fn quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:@,+%^".contains(&b));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// Quotes every word and joins them with spaces.
pub fn join<S: AsRef<str>>(words: &[S]) -> String {
    words
        .iter()
        .map(|w| quote(w.as_ref()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A trigger's word: `sigterm`, `leader-exit`.
pub fn trigger_name(t: Trigger) -> &'static str {
    match t {
        Trigger::Sigterm => "sigterm",
        Trigger::Sigint => "sigint",
        Trigger::Timeout => "timeout",
        Trigger::LeaderExit => "leader-exit",
    }
}

/// A duration as a command-line argument: `250ms`, `2s`.
pub fn format_duration_arg(d: Duration) -> String {
    let ms = d.as_millis();
    if ms % 1000 == 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    #[test]
    fn durations_print_as_arguments() {
        assert_eq!(format_duration_arg(Duration::from_millis(250)), "250ms");
        assert_eq!(format_duration_arg(Duration::from_secs(2)), "2s");
    }

    #[rstest]
    #[case("tini --", &["tini", "--"])]
    #[case("  timeout  -k 1\t5 ", &["timeout", "-k", "1", "5"])]
    #[case("sh -c 'exec \"$@\"' sh", &["sh", "-c", "exec \"$@\"", "sh"])]
    #[case(r#"a "b c" d\ e"#, &["a", "b c", "d e"])]
    #[case(r#""x\"y\\z\n""#, &["x\"y\\z\\n"])]
    #[case("''", &[""])]
    #[case("a''b", &["ab"])]
    fn split_reads_words_as_sh_does(#[case] line: &str, #[case] want: &[&str]) {
        assert_eq!(split(line).unwrap(), want);
    }

    #[rstest]
    #[case("a 'b", SplitError::Unterminated { quote: "single", offset: 2 })]
    #[case("\"b", SplitError::Unterminated { quote: "double", offset: 0 })]
    #[case("a\\", SplitError::TrailingBackslash)]
    #[case("   ", SplitError::Empty)]
    fn split_rejects_malformed_lines(#[case] line: &str, #[case] want: SplitError) {
        assert_eq!(split(line).unwrap_err(), want);
    }

    #[rstest]
    #[case("tini", "tini")]
    #[case("--method=auto", "--method=auto")]
    #[case("pause [fork: pause]", "'pause [fork: pause]'")]
    #[case("it's", r"'it'\''s'")]
    #[case("", "''")]
    fn quote_leaves_plain_words_bare(#[case] word: &str, #[case] want: &str) {
        assert_eq!(quote(word), want);
    }

    #[test]
    fn join_then_split_round_trips() {
        let words = [
            "my sup",
            "--",
            "pause [fork: setsid pause]",
            "it's",
            "",
            "$HOME",
        ];
        assert_eq!(split(&join(&words)).unwrap(), words);
    }
}
