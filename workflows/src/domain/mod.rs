//! Domain types and the order state machine: the one place the rules of an order live.

mod intent;
mod order;
mod quantity;
mod status;

pub use boxoffice_nats::ids::{BuyerId, EventId, IdError, OrderId, SeatId, SectionCode, UnitLabel};
pub use intent::{PurchaseIntent, SeatRequest};
pub use order::{OrderState, TransitionError};
pub use quantity::{Quantity, QuantityError};
pub use status::{OrderStatus, PaymentView, TicketView};
