// The installable app: registers the service worker (filled in by the PWA work).
"use strict";
