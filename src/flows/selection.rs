//! See [`super`]. (To be written.)
