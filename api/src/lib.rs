//! certscan-api (being written).
