//! Framing codecs: turning a byte stream into messages inside `on_data`.
