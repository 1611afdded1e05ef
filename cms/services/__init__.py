"""The cms app's services, a module each: mailings (appeal emails to a segment
of supporters, sent in the background). Every email record they make goes
through supporters.services.email."""
