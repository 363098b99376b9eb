// counter: a tiny reactor module (built with -mexec-model=reactor, so it
// has _initialize instead of _start). It keeps one counter in linear
// memory; used by spawn/instantiate benchmarks and reactor tests.
//
// Exports: counter_add(i32) -> i32, counter_get() -> i32, memory,
// _initialize.

static int counter;

// counter_add adds delta to the counter and returns the new value.
__attribute__((export_name("counter_add")))
int counter_add(int delta) {
    counter += delta;
    return counter;
}

// counter_get returns the current value.
__attribute__((export_name("counter_get")))
int counter_get(void) {
    return counter;
}
