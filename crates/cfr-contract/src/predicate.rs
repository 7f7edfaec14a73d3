//! Predicates: small expressions over the attributes of one event
//! (`where`, `ok`, `failed`).
//!
//! ```text
//! or      := and ("or" and)*
//! and     := unary ("and" unary)*
//! unary   := "not" operand | primary
//! operand := "not" operand | "(" or ")" | attr | "true" | "false"
//! primary := "(" or ")" | "true" | "false"
//!          | attr                                   ; a bool attribute, as a test
//!          | attr ("==" | "!=" | "<" | "<=" | ">" | ">=") literal
//!          | attr ["not"] "in" "[" [literal ("," literal)* [","]] "]"
//! literal := int | "'" text "'" | "x'" hex "'" | "true" | "false"
//! ```
//!
//! Precedence, tightest first: `not`, comparisons, `and`, `or`. Because
//! `not` binds tighter than a comparison, `not x == 1` is rejected (it
//! would compare a negated attribute); write `not (x == 1)`.
//!
//! * Attribute names: a letter or `_`, then letters, digits, `_` and `-`.
//! * Integers are decimal, optionally negative, within i64.
//! * Text is single-quoted; inside it `\\` is a backslash and `\'` a quote,
//!   and no other escape exists. Any other character stands for itself.
//! * Bytes are `x'..'` with an even number of hex digits.
//! * For a `time` or `duration` attribute a text literal is read as RFC 3339
//!   or as a duration (`received < '2026-03-02T10:00:00Z'`, `latency > '2s'`)
//!   and becomes its integer nanoseconds.
//!
//! **Absent attributes.** A comparison (including `in` and `not in`) or a
//! bare bool test whose attribute is absent from the event is **false**.
//! So `x != 1` is false when `x` is absent, while `not (x == 1)` is true.
//!
//! Ordering (`<`, `<=`, `>`, `>=`) applies to `int`, `time` and `duration`
//! attributes only. [`Predicate::parse_for`] checks every attribute and
//! literal against the event kind's declared attributes.
//!
//! Limits against hostile contracts: [`MAX_SOURCE_LEN`] bytes of text,
//! [`MAX_DEPTH`] levels of nesting, [`MAX_NODES`] operators and literals.

use crate::error::{PredicateError, PredicateErrorKind as K};
use crate::model::EventSpec;
use cfr_model::{Attrs, Value, ValueType};
use std::fmt;

/// Longest predicate text, in bytes.
pub const MAX_SOURCE_LEN: usize = 4096;
/// Deepest nesting of parentheses and `not`.
pub const MAX_DEPTH: usize = 32;
/// Most operators, comparisons and literals in one predicate.
pub const MAX_NODES: usize = 256;

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CmpOp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl CmpOp {
    /// The operator's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }

    /// True for `<`, `<=`, `>`, `>=`.
    pub fn is_ordering(self) -> bool {
        !matches!(self, CmpOp::Eq | CmpOp::Ne)
    }
}

/// A parsed predicate (the AST). Its [`Display`](fmt::Display) is the
/// canonical text, which parses back to an equal predicate.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Predicate {
    /// `true` or `false`.
    Const(bool),
    /// A bare attribute: true when present and `true`.
    Test(String),
    /// `attr op literal`.
    Compare {
        /// The attribute.
        attr: String,
        /// The operator.
        op: CmpOp,
        /// The literal.
        value: Value,
    },
    /// `attr in [...]`.
    In {
        /// The attribute.
        attr: String,
        /// The literals.
        values: Vec<Value>,
    },
    /// `attr not in [...]` (false when `attr` is absent).
    NotIn {
        /// The attribute.
        attr: String,
        /// The literals.
        values: Vec<Value>,
    },
    /// `not p`.
    Not(Box<Predicate>),
    /// `p and q`.
    And(Box<Predicate>, Box<Predicate>),
    /// `p or q`.
    Or(Box<Predicate>, Box<Predicate>),
}

impl Predicate {
    /// Parses a predicate without type information.
    pub fn parse(text: &str) -> Result<Predicate, PredicateError> {
        Parser::run(text, None)
    }

    /// Parses a predicate over events of `kind`, checking every attribute
    /// against `spec` (declared, literal types fit, ordering only on
    /// int/time/duration, bare tests only on bool) and turning text
    /// literals for time and duration attributes into nanoseconds.
    pub fn parse_for(
        text: &str,
        kind: &str,
        spec: &EventSpec,
    ) -> Result<Predicate, PredicateError> {
        Parser::run(text, Some((kind, spec)))
    }

    /// Evaluates the predicate on an event's attributes. A comparison or
    /// test whose attribute is absent (or holds a value of another type)
    /// is false.
    pub fn eval(&self, attrs: &Attrs) -> bool {
        match self {
            Predicate::Const(b) => *b,
            Predicate::Test(a) => matches!(attrs.get(a), Some(Value::Bool(true))),
            Predicate::Compare { attr, op, value } => match attrs.get(attr) {
                None => false,
                Some(v) => compare(v, *op, value),
            },
            Predicate::In { attr, values } => match attrs.get(attr) {
                None => false,
                Some(v) => values.iter().any(|x| x == v),
            },
            Predicate::NotIn { attr, values } => match attrs.get(attr) {
                None => false,
                Some(v) => !values.iter().any(|x| x == v),
            },
            Predicate::Not(p) => !p.eval(attrs),
            Predicate::And(p, q) => p.eval(attrs) && q.eval(attrs),
            Predicate::Or(p, q) => p.eval(attrs) || q.eval(attrs),
        }
    }

    /// Every attribute the predicate mentions, in order of appearance.
    pub fn attributes(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.collect_attrs(&mut out);
        out
    }

    fn collect_attrs<'a>(&'a self, out: &mut Vec<&'a str>) {
        match self {
            Predicate::Const(_) => {}
            Predicate::Test(a)
            | Predicate::Compare { attr: a, .. }
            | Predicate::In { attr: a, .. }
            | Predicate::NotIn { attr: a, .. } => out.push(a),
            Predicate::Not(p) => p.collect_attrs(out),
            Predicate::And(p, q) | Predicate::Or(p, q) => {
                p.collect_attrs(out);
                q.collect_attrs(out);
            }
        }
    }

    /// Binding level for printing: 0 = or, 1 = and, 2 = unary/primary.
    fn level(&self) -> u8 {
        match self {
            Predicate::Or(..) => 0,
            Predicate::And(..) => 1,
            _ => 2,
        }
    }
}

fn compare(v: &Value, op: CmpOp, lit: &Value) -> bool {
    match op {
        CmpOp::Eq => v == lit && same_type(v, lit),
        CmpOp::Ne => same_type(v, lit) && v != lit,
        _ => match (v, lit) {
            (Value::Int(a), Value::Int(b)) => match op {
                CmpOp::Lt => a < b,
                CmpOp::Le => a <= b,
                CmpOp::Gt => a > b,
                CmpOp::Ge => a >= b,
                CmpOp::Eq | CmpOp::Ne => false,
            },
            _ => false,
        },
    }
}

fn same_type(a: &Value, b: &Value) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b)
}

/// Writes a literal in predicate syntax.
pub fn write_literal(f: &mut impl fmt::Write, v: &Value) -> fmt::Result {
    match v {
        Value::Int(i) => write!(f, "{i}"),
        Value::Bool(b) => write!(f, "{b}"),
        Value::Text(t) => {
            f.write_char('\'')?;
            for c in t.chars() {
                if c == '\\' || c == '\'' {
                    f.write_char('\\')?;
                }
                f.write_char(c)?;
            }
            f.write_char('\'')
        }
        Value::Bytes(b) => {
            f.write_str("x'")?;
            for byte in b {
                write!(f, "{byte:02x}")?;
            }
            f.write_char('\'')
        }
    }
}

impl fmt::Display for Predicate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn side(f: &mut fmt::Formatter<'_>, p: &Predicate, min: u8) -> fmt::Result {
            if p.level() < min {
                write!(f, "({p})")
            } else {
                write!(f, "{p}")
            }
        }
        fn list(f: &mut fmt::Formatter<'_>, values: &[Value]) -> fmt::Result {
            f.write_str("[")?;
            for (i, v) in values.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write_literal(f, v)?;
            }
            f.write_str("]")
        }
        match self {
            Predicate::Const(b) => write!(f, "{b}"),
            Predicate::Test(a) => f.write_str(a),
            Predicate::Compare { attr, op, value } => {
                write!(f, "{attr} {} ", op.as_str())?;
                write_literal(f, value)
            }
            Predicate::In { attr, values } => {
                write!(f, "{attr} in ")?;
                list(f, values)
            }
            Predicate::NotIn { attr, values } => {
                write!(f, "{attr} not in ")?;
                list(f, values)
            }
            Predicate::Not(p) => match **p {
                Predicate::Const(_) | Predicate::Test(_) | Predicate::Not(_) => {
                    write!(f, "not {p}")
                }
                _ => write!(f, "not ({p})"),
            },
            Predicate::And(p, q) => {
                side(f, p, 1)?;
                f.write_str(" and ")?;
                side(f, q, 2)
            }
            Predicate::Or(p, q) => {
                side(f, p, 0)?;
                f.write_str(" or ")?;
                side(f, q, 1)
            }
        }
    }
}

/// True for a valid attribute name: a letter or `_`, then letters,
/// digits, `_` and `-`, and not a keyword.
pub fn is_attr_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && !KEYWORDS.contains(&s)
}

const KEYWORDS: [&str; 6] = ["and", "or", "not", "in", "true", "false"];

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
    Lit(Value),
    Op(CmpOp),
    And,
    Or,
    Not,
    In,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    End,
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("attribute {s:?}"),
            Tok::Lit(v) => {
                let mut s = String::from("literal ");
                let _ = write_literal(&mut s, v);
                s
            }
            Tok::Op(op) => format!("{:?}", op.as_str()),
            Tok::And => "\"and\"".into(),
            Tok::Or => "\"or\"".into(),
            Tok::Not => "\"not\"".into(),
            Tok::In => "\"in\"".into(),
            Tok::LParen => "\"(\"".into(),
            Tok::RParen => "\")\"".into(),
            Tok::LBracket => "\"[\"".into(),
            Tok::RBracket => "\"]\"".into(),
            Tok::Comma => "\",\"".into(),
            Tok::End => "end of input".into(),
        }
    }
}

fn lex(text: &str) -> Result<Vec<(usize, Tok)>, (usize, K)> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let tok = match c {
            '(' => {
                i += 1;
                Tok::LParen
            }
            ')' => {
                i += 1;
                Tok::RParen
            }
            '[' => {
                i += 1;
                Tok::LBracket
            }
            ']' => {
                i += 1;
                Tok::RBracket
            }
            ',' => {
                i += 1;
                Tok::Comma
            }
            '=' | '!' | '<' | '>' => {
                let next = chars.get(i + 1).copied();
                let (op, len) = match (c, next) {
                    ('=', Some('=')) => (CmpOp::Eq, 2),
                    ('!', Some('=')) => (CmpOp::Ne, 2),
                    ('<', Some('=')) => (CmpOp::Le, 2),
                    ('>', Some('=')) => (CmpOp::Ge, 2),
                    ('<', _) => (CmpOp::Lt, 1),
                    ('>', _) => (CmpOp::Gt, 1),
                    _ => return Err((start, K::UnexpectedChar(c))),
                };
                i += len;
                Tok::Op(op)
            }
            '\'' => {
                i += 1;
                let mut s = String::new();
                loop {
                    match chars.get(i) {
                        None => return Err((start, K::Unterminated)),
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some('\\') => match chars.get(i + 1) {
                            Some(&e @ ('\\' | '\'')) => {
                                s.push(e);
                                i += 2;
                            }
                            _ => return Err((i, K::BadEscape)),
                        },
                        Some(&ch) => {
                            s.push(ch);
                            i += 1;
                        }
                    }
                }
                Tok::Lit(Value::Text(s))
            }
            'x' if chars.get(i + 1) == Some(&'\'') => {
                i += 2;
                let mut hex = Vec::new();
                loop {
                    match chars.get(i) {
                        None => return Err((start, K::Unterminated)),
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some(&h) => match h.to_digit(16) {
                            // to_digit(16) is < 16, so the cast is exact.
                            Some(d) => {
                                hex.push(d as u8);
                                i += 1;
                            }
                            None => return Err((i, K::BadBytes)),
                        },
                    }
                }
                if hex.len() % 2 != 0 {
                    return Err((start, K::BadBytes));
                }
                Tok::Lit(Value::Bytes(
                    hex.chunks(2).map(|p| (p[0] << 4) | p[1]).collect(),
                ))
            }
            '-' | '0'..='9' => {
                let neg = c == '-';
                if neg {
                    i += 1;
                }
                let digits_start = i;
                while i < chars.len() && chars[i].is_ascii_digit() {
                    i += 1;
                }
                if i == digits_start {
                    return Err((start, K::UnexpectedChar(c)));
                }
                if chars
                    .get(i)
                    .is_some_and(|c| c.is_ascii_alphabetic() || *c == '_')
                {
                    return Err((i, K::UnexpectedChar(chars[i])));
                }
                let mut n: i64 = 0;
                for d in &chars[digits_start..i] {
                    // is_ascii_digit was checked above.
                    let d = i64::from(d.to_digit(10).unwrap_or(0));
                    n = n
                        .checked_mul(10)
                        .and_then(|n| {
                            if neg {
                                n.checked_sub(d)
                            } else {
                                n.checked_add(d)
                            }
                        })
                        .ok_or((start, K::IntOutOfRange))?;
                }
                Tok::Lit(Value::Int(n))
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == '-')
                {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                match word.as_str() {
                    "and" => Tok::And,
                    "or" => Tok::Or,
                    "not" => Tok::Not,
                    "in" => Tok::In,
                    "true" => Tok::Lit(Value::Bool(true)),
                    "false" => Tok::Lit(Value::Bool(false)),
                    _ => Tok::Ident(word),
                }
            }
            other => return Err((start, K::UnexpectedChar(other))),
        };
        out.push((start, tok));
        if out.len() > 4 * MAX_NODES {
            return Err((start, K::TooBig(MAX_NODES)));
        }
    }
    out.push((chars.len(), Tok::End));
    Ok(out)
}

struct Parser<'a> {
    toks: Vec<(usize, Tok)>,
    pos: usize,
    nodes: usize,
    schema: Option<(&'a str, &'a EventSpec)>,
}

type PResult<T> = Result<T, (usize, K)>;

impl<'a> Parser<'a> {
    fn run(
        text: &str,
        schema: Option<(&'a str, &'a EventSpec)>,
    ) -> Result<Predicate, PredicateError> {
        let fail = |(offset, kind): (usize, K)| PredicateError {
            text: text.chars().take(200).collect(),
            offset,
            kind,
        };
        if text.len() > MAX_SOURCE_LEN {
            return Err(fail((0, K::TooLong(MAX_SOURCE_LEN))));
        }
        let toks = lex(text).map_err(fail)?;
        let mut p = Parser {
            toks,
            pos: 0,
            nodes: 0,
            schema,
        };
        let e = p.or(0).map_err(fail)?;
        match p.peek() {
            Tok::End => Ok(e),
            other => Err(fail((
                p.offset(),
                K::Unexpected {
                    expected: "\"and\", \"or\" or end of input",
                    found: other.describe(),
                },
            ))),
        }
    }

    fn peek(&self) -> &Tok {
        // The token list always ends with End, and pos never passes it.
        &self.toks[self.pos.min(self.toks.len() - 1)].1
    }

    fn offset(&self) -> usize {
        self.toks[self.pos.min(self.toks.len() - 1)].0
    }

    fn bump(&mut self) -> Tok {
        let t = self.peek().clone();
        if self.pos < self.toks.len() - 1 {
            self.pos += 1;
        }
        t
    }

    fn node(&mut self) -> PResult<()> {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            Err((self.offset(), K::TooBig(MAX_NODES)))
        } else {
            Ok(())
        }
    }

    fn unexpected<T>(&self, expected: &'static str) -> PResult<T> {
        Err((
            self.offset(),
            K::Unexpected {
                expected,
                found: self.peek().describe(),
            },
        ))
    }

    fn or(&mut self, depth: usize) -> PResult<Predicate> {
        let mut left = self.and(depth)?;
        while *self.peek() == Tok::Or {
            self.bump();
            self.node()?;
            let right = self.and(depth)?;
            left = Predicate::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self, depth: usize) -> PResult<Predicate> {
        let mut left = self.unary(depth)?;
        while *self.peek() == Tok::And {
            self.bump();
            self.node()?;
            let right = self.unary(depth)?;
            left = Predicate::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self, depth: usize) -> PResult<Predicate> {
        if *self.peek() == Tok::Not {
            self.bump();
            self.node()?;
            let inner = self.operand(depth + 1)?;
            Ok(Predicate::Not(Box::new(inner)))
        } else {
            self.primary(depth)
        }
    }

    /// What `not` applies to: another `not`, a parenthesised predicate, a
    /// bool attribute or a constant (not a comparison).
    fn operand(&mut self, depth: usize) -> PResult<Predicate> {
        if depth > MAX_DEPTH {
            return Err((self.offset(), K::TooDeep(MAX_DEPTH)));
        }
        match self.peek().clone() {
            Tok::Not => {
                self.bump();
                self.node()?;
                Ok(Predicate::Not(Box::new(self.operand(depth + 1)?)))
            }
            Tok::LParen => self.parens(depth),
            Tok::Lit(Value::Bool(b)) => {
                self.bump();
                self.node()?;
                Ok(Predicate::Const(b))
            }
            Tok::Ident(name) => {
                let at = self.offset();
                self.bump();
                self.node()?;
                if matches!(self.peek(), Tok::Op(_) | Tok::In)
                    || (*self.peek() == Tok::Not
                        && matches!(self.toks.get(self.pos + 1), Some((_, Tok::In))))
                {
                    return Err((at, K::NotBeforeComparison));
                }
                self.test(at, name)
            }
            _ => self.unexpected("an attribute, \"(\", \"not\", \"true\" or \"false\""),
        }
    }

    fn parens(&mut self, depth: usize) -> PResult<Predicate> {
        if depth + 1 > MAX_DEPTH {
            return Err((self.offset(), K::TooDeep(MAX_DEPTH)));
        }
        self.bump();
        let inner = self.or(depth + 1)?;
        if *self.peek() != Tok::RParen {
            return self.unexpected("\")\"");
        }
        self.bump();
        Ok(inner)
    }

    fn primary(&mut self, depth: usize) -> PResult<Predicate> {
        match self.peek().clone() {
            Tok::LParen => self.parens(depth),
            Tok::Lit(Value::Bool(b)) => {
                self.bump();
                self.node()?;
                Ok(Predicate::Const(b))
            }
            Tok::Ident(name) => {
                let at = self.offset();
                self.bump();
                self.node()?;
                match self.peek().clone() {
                    Tok::Op(op) => {
                        self.bump();
                        let value = self.literal(&name, Some(op))?;
                        Ok(Predicate::Compare {
                            attr: name,
                            op,
                            value,
                        })
                    }
                    Tok::In => {
                        self.bump();
                        let values = self.list(&name)?;
                        Ok(Predicate::In { attr: name, values })
                    }
                    Tok::Not if matches!(self.toks.get(self.pos + 1), Some((_, Tok::In))) => {
                        self.bump();
                        self.bump();
                        let values = self.list(&name)?;
                        Ok(Predicate::NotIn { attr: name, values })
                    }
                    _ => self.test(at, name),
                }
            }
            _ => self.unexpected("an attribute, \"(\", \"not\", \"true\" or \"false\""),
        }
    }

    fn test(&mut self, at: usize, name: String) -> PResult<Predicate> {
        if let Some(ty) = self.attr_type(at, &name)? {
            if ty != ValueType::Bool {
                return Err((at, K::NotBool { attr: name, ty }));
            }
        }
        Ok(Predicate::Test(name))
    }

    /// The declared type of `name` (None when parsing without a schema).
    fn attr_type(&self, at: usize, name: &str) -> PResult<Option<ValueType>> {
        match self.schema {
            None => Ok(None),
            Some((kind, spec)) => match spec.attrs.get(name) {
                Some(a) => Ok(Some(a.ty)),
                None => Err((
                    at,
                    K::UnknownAttr {
                        kind: kind.to_owned(),
                        attr: name.to_owned(),
                    },
                )),
            },
        }
    }

    fn list(&mut self, attr: &str) -> PResult<Vec<Value>> {
        if *self.peek() != Tok::LBracket {
            return self.unexpected("\"[\"");
        }
        self.bump();
        let mut values = Vec::new();
        loop {
            if *self.peek() == Tok::RBracket {
                self.bump();
                return Ok(values);
            }
            values.push(self.literal(attr, None)?);
            match self.peek() {
                Tok::Comma => {
                    self.bump();
                }
                Tok::RBracket => {}
                _ => return self.unexpected("\",\" or \"]\""),
            }
        }
    }

    fn literal(&mut self, attr: &str, op: Option<CmpOp>) -> PResult<Value> {
        let at = self.offset();
        let Tok::Lit(v) = self.peek().clone() else {
            return self.unexpected("a literal (int, 'text', x'hex', true or false)");
        };
        self.bump();
        self.node()?;
        let attr_at = self.toks[..self.pos]
            .iter()
            .rev()
            .find_map(|(o, t)| matches!(t, Tok::Ident(n) if n == attr).then_some(*o))
            .unwrap_or(at);
        let Some(ty) = self.attr_type(attr_at, attr)? else {
            return Ok(v);
        };
        if op.is_some_and(CmpOp::is_ordering) && !ty.is_integer() {
            return Err((
                attr_at,
                K::NotOrdered {
                    attr: attr.to_owned(),
                    ty,
                },
            ));
        }
        let v = match (&v, ty) {
            (Value::Text(t), ValueType::Time) => {
                Value::Int(cfr_model::time::parse_rfc3339(t).map_err(|_| {
                    (
                        at,
                        K::BadTimeLiteral {
                            text: t.clone(),
                            ty,
                        },
                    )
                })?)
            }
            (Value::Text(t), ValueType::Duration) => {
                Value::Int(cfr_model::time::parse_duration(t).map_err(|_| {
                    (
                        at,
                        K::BadTimeLiteral {
                            text: t.clone(),
                            ty,
                        },
                    )
                })?)
            }
            _ => v,
        };
        if !v.fits(ty) {
            return Err((
                at,
                K::LiteralType {
                    attr: attr.to_owned(),
                    ty,
                    literal: v.type_name(),
                },
            ));
        }
        Ok(v)
    }
}
