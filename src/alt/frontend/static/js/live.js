// Live counts from the stats stream (filled in by the stats work).
"use strict";
