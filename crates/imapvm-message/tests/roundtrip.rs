//! proptest: build (default mode) then parse gives the model back.
