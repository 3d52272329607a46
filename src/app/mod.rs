//! The application layer: the rules of each operation staff or the provider set off, in one
//! place for every front door (the JSON API, the console). Handlers parse a request, call one
//! function here and map its result; this layer calls the store, the domain and the policies
//! in `jobs`.

pub mod receipts;
