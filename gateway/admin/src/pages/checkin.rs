//! The door scanner (`/admin/checkin`): phone first, one hand, and usable by keyboard and
//! screen reader. The gate's name (remembered by the browser), the camera where the browser
//! can read QR codes (`BarcodeDetector`), a typed code always, and one big result, in colour
//! and in words, announced as it changes. Its script is `assets/checkin.js`; the check itself
//! is `POST /admin/api/v1/checkin`.

use axum::response::{IntoResponse, Response};
use maud::html;

use super::{PageStaff, layout::layout};

/// `GET /admin/checkin`: door staff land here after signing in; organizers and operators may
/// scan too.
pub(super) async fn scanner_page(PageStaff(admin): PageStaff) -> Response {
    layout(
        "Check-in",
        Some(&admin),
        html! {
            div.scanner #scanner {
                h1 { "Check-in" }
                form #gate-form.scanner-gate autocomplete="off" {
                    label for="gate" { "Gate" }
                    input #gate name="gate" required maxlength="100" placeholder="North 1" aria-describedby="gate-help";
                    p.muted #gate-help { "The gate's name is kept on this device and recorded with each ticket admitted." }
                }
                div #result.result.ready role="status" aria-live="assertive" aria-atomic="true" data-result="ready" {
                    p.verdict { "Ready" }
                    p.why { "Scan a ticket's QR code or type its code." }
                }
                section.camera aria-labelledby="camera-title" {
                    h2 #camera-title { "Camera" }
                    button.primary #camera-start type="button" { "Scan with the camera" }
                    video #camera playsinline muted hidden aria-label="Camera view" {}
                    p.muted #camera-note {}
                }
                form #typed.scanner-typed autocomplete="off" {
                    label for="scan" { "Ticket code" }
                    input #scan name="scan" required maxlength="512" autocapitalize="characters" spellcheck="false" placeholder="The code under the QR code" aria-describedby="scan-help";
                    p.muted #scan-help { "For a damaged QR code: type the 32-character code printed under it, or paste the whole scan text." }
                    button.primary #check type="submit" { "Check in" }
                }
            }
            script src="/admin/assets/checkin.js" defer {}
        },
    )
    .into_response()
}
