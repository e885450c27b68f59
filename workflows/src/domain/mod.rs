//! Domain types and the order state machine: the one place the rules of an order live.

mod order;
mod quantity;

pub use boxoffice_nats::ids::{BuyerId, EventId, IdError, OrderId, SeatId, SectionCode, UnitLabel};
pub use order::{OrderState, TransitionError};
pub use quantity::{Quantity, QuantityError};
