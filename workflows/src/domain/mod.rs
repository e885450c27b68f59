//! Domain types, the order state machine and the sale lifecycle: the one place the rules of an
//! order and of an event's sale live.

mod intent;
mod order;
mod quantity;
mod sale;
mod status;

pub use boxoffice_nats::ids::{BuyerId, EventId, IdError, OrderId, SeatId, SectionCode, UnitLabel};
pub use intent::{PurchaseIntent, SeatRequest};
pub use order::{OrderState, TransitionError};
pub use quantity::{Quantity, QuantityError};
pub use sale::{SaleCommand, SaleStatus};
pub use status::{OrderStatus, PaymentView, TicketView};
