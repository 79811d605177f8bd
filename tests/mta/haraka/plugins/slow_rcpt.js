// tests/mta/haraka/plugins/slow_rcpt.js - answers every RCPT TO late.
// Delay in milliseconds: config/slow_rcpt.ini, [main] delay_ms (default
// 500).  Used by tests/integration_haraka.sh to make a run outlast the
// check's deadline (-t) part of the way through the relay tests.
exports.register = function () {
    const cfg = this.config.get('slow_rcpt.ini')
    this.delay = parseInt(cfg.main.delay_ms, 10) || 500
}

exports.hook_rcpt = function (next) {
    setTimeout(() => next(), this.delay)
}
