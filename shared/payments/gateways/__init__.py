"""Payment gateways behind one interface: Razorpay, Stripe and the Mock gateway.

Import the concrete adapters through :mod:`payments.gateways.registry`, never at module level of
a handler that does not need them: the SDKs cost cold-start time (stripe alone ~17 MB).
"""
