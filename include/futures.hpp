// futures.hpp: C++17 wrapper of futures.h (placeholder; the wrapper follows).
#pragma once
#include <futures.h>
