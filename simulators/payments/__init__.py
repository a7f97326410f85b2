"""The payment-channel simulator (Alipay/WeChat Pay style), served under `/_pay` by the
simulator process: payments, refunds and payouts with signed, repeated callbacks and knobs."""
