"""One construct per concern: config + secrets, queue + relay, schedule + lister, push events, monitoring."""
