// Small media samples for the conformance fixtures, generated for this project (not copied from
// any test suite). tests/unit/modules/conformance_media_test.cpp checks that both decode to what
// they claim to be: the suite only checks the MIME type, but clients may render them.
#pragma once

#include <string_view>

namespace bastion::modules::conformance {

// A 1x1 PNG: one opaque teal pixel (RGBA 8-bit), with valid chunk CRCs.
inline constexpr std::string_view kPngBase64 =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mOQ7+r6DwAEMgIz/7pBogAAAABJRU5ErkJggg==";

// A RIFF/WAVE file: PCM, mono, 8000 Hz, 16-bit, 20 ms (160 samples) of a 440 Hz tone.
inline constexpr std::string_view kWavBase64 =
    "UklGRmQBAABXQVZFZm10IBAAAAABAAEAQB8AAIA+AAACABAAZGF0YUABAAAAAJUK6xPlGrIe3R5iG6oUgAv7AFj22eye5YHhAOEo5Jzql/"
    "MK/rcIXhLYGUQeHB9GHBgWTg3wAjv4cO645v7h0OBS4znp0fEW/NEGvhCxGLgdPB8OHXAXDg/jBCX6GPDs55niwOCZ4uznGPAl+"
    "uMEDg9wFw4dPB+4HbEYvhDRBhb80fE56VLj0OD+4bjmcO47+PACTg0YFkYcHB9EHtgZXhK3CAr+l/Oc6ijkAOGB4Z7l2exY9vsAgAuqFGIb3R6yHuUa6xOVCgAAa/"
    "UV7BvlTuEj4Z7kVuuA9AX/qAknE2Iafx4AH9gbZBVpDPYBSfei7SjmvOHk4Lrj6Omy8hD9xQeQEUgZAh4wH64cxxYvDuoDL/lC70/nSOLE4PLikOjy8B372wXoDxQYZx1AH2cdFBjoD9sFHfvy8JDo8uLE4A==";

}  // namespace bastion::modules::conformance
