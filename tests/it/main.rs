//! The `orgauth` binary end to end: serving, signals, migrations, the OpenAPI command and the
//! one-line failures.

mod binary;
