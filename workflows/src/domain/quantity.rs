//! How many tickets one order asks for.

use std::num::NonZeroU8;

/// A ticket quantity, 1 to [`Quantity::MAX`].
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "i64", into = "u8")]
pub struct Quantity(NonZeroU8);

/// A quantity outside 1..=MAX.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("quantity must be between 1 and {max}, got {got}")]
pub struct QuantityError {
    /// What was asked for.
    pub got: i64,
    /// The largest allowed.
    pub max: u8,
}

impl Quantity {
    /// The most tickets one order can hold (the per-event limit may be lower).
    pub const MAX: u8 = 50;

    /// Checks `n` is in 1..=MAX (negative and huge values included).
    pub fn parse(n: i64) -> Result<Self, QuantityError> {
        u8::try_from(n)
            .ok()
            .and_then(NonZeroU8::new)
            .filter(|q| q.get() <= Self::MAX)
            .map(Self)
            .ok_or(QuantityError {
                got: n,
                max: Self::MAX,
            })
    }

    /// The number.
    pub fn get(self) -> u32 {
        u32::from(self.0.get())
    }
}

impl TryFrom<i64> for Quantity {
    type Error = QuantityError;
    fn try_from(n: i64) -> Result<Self, QuantityError> {
        Self::parse(n)
    }
}

impl From<Quantity> for u8 {
    fn from(q: Quantity) -> u8 {
        q.0.get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantity_rejects_zero_negative_and_huge_values() {
        for n in [0, -1, 51, 256, i64::MAX, i64::MIN] {
            assert_eq!(
                Quantity::parse(n),
                Err(QuantityError {
                    got: n,
                    max: Quantity::MAX
                }),
                "{n}"
            );
        }
        assert_eq!(Quantity::parse(1).unwrap().get(), 1);
        assert_eq!(Quantity::parse(50).unwrap().get(), 50);
        assert!(serde_json::from_str::<Quantity>("-3").is_err());
        assert!(serde_json::from_str::<Quantity>("4").is_ok());
    }
}
