//! The TOML side of the reader: spanned TOML values as documents.

use crate::error::Problem;
use crate::model::{Money, Period};
use crate::read::{Doc, Span};
use cfr_model::keys::PublicKey;
use toml::de::DeValue;
use toml::Spanned;

type V<'i> = Spanned<DeValue<'i>>;

fn kind_name(v: &DeValue<'_>) -> &'static str {
    match v {
        DeValue::String(_) => "text",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a bool",
        DeValue::Datetime(_) => "a TOML datetime",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

impl Doc for V<'_> {
    fn span(&self) -> Span {
        Some(Spanned::span(self))
    }

    fn type_name(&self) -> &'static str {
        kind_name(self.get_ref())
    }

    fn text(&self) -> Option<&str> {
        self.get_ref().as_str()
    }

    fn boolean(&self) -> Option<bool> {
        self.get_ref().as_bool()
    }

    fn int(&self) -> Option<i64> {
        let i = self.get_ref().as_integer()?;
        i64::from_str_radix(i.as_str(), i.radix()).ok()
    }

    fn array(&self) -> Option<Vec<&Self>> {
        self.get_ref().as_array().map(|a| a.iter().collect())
    }

    fn table(&self) -> Option<Vec<(&str, Span, &Self)>> {
        self.get_ref().as_table().map(|t| {
            t.iter()
                .map(|(k, v)| (k.get_ref().as_ref(), Some(k.span()), v))
                .collect()
        })
    }

    fn duration(&self) -> Result<i64, Problem> {
        let t = self.text().ok_or(Problem::WrongType {
            expected: "a duration text such as \"2s\"",
            found: self.type_name(),
        })?;
        cfr_model::time::parse_duration(t).map_err(|_| Problem::BadDuration {
            text: t.chars().take(64).collect(),
        })
    }

    fn percent(&self) -> Result<u32, Problem> {
        let t = self.text().ok_or(Problem::WrongType {
            expected: "a percentage text such as \"99.9%\"",
            found: self.type_name(),
        })?;
        cfr_model::time::parse_percent(t).map_err(|_| Problem::BadPercent {
            text: t.chars().take(64).collect(),
        })
    }

    fn time(&self) -> Result<i64, Problem> {
        let t = self.text().ok_or(Problem::WrongType {
            expected: "an RFC 3339 time text such as \"2026-03-01T00:00:00Z\"",
            found: self.type_name(),
        })?;
        cfr_model::time::parse_rfc3339(t).map_err(|_| Problem::BadTime {
            text: t.chars().take(64).collect(),
        })
    }

    fn money(&self) -> Result<Money, Problem> {
        let t = self.text().ok_or(Problem::WrongType {
            expected: "an amount text such as \"1200.00 EUR\"",
            found: self.type_name(),
        })?;
        Money::parse(t).ok_or_else(|| Problem::BadMoney {
            text: t.chars().take(64).collect(),
        })
    }

    fn key(&self) -> Result<PublicKey, Problem> {
        let t = self.text().ok_or(Problem::WrongType {
            expected: "a key text \"ed25519:<base64>\"",
            found: self.type_name(),
        })?;
        if !t.starts_with("ed25519:") {
            return Err(Problem::BadKey {
                reason: format!(
                    "{:?} is not of the form \"ed25519:<base64 of 32 bytes>\"",
                    t.chars().take(80).collect::<String>()
                ),
            });
        }
        PublicKey::parse(t).map_err(|e| Problem::BadKey {
            reason: e.to_string(),
        })
    }

    fn period(&self) -> Result<Period, Problem> {
        let t = self.text().ok_or(Problem::WrongType {
            expected: "\"month\" or a duration text such as \"7d\"",
            found: self.type_name(),
        })?;
        if t == "month" {
            return Ok(Period::Month);
        }
        cfr_model::time::parse_duration(t)
            .map(Period::Every)
            .map_err(|_| Problem::BadDuration {
                text: t.chars().take(64).collect(),
            })
    }
}
