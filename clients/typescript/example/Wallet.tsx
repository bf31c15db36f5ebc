/**
 * The usePayments hook in a React component (type-checked by the tests, not rendered: the hook's
 * logic is PaymentsController, which tests/paymentsController.test.ts runs against the stack).
 * Razorpay's checkout wants the amount in paise as a number: toMinorUnitsNumber("1000.10") is
 * 100010, where the spec's `response.amount * 100` gave 100009.99999999999.
 */
import { useState } from "react";

import { createPaymentsClient, type DepositInitiated, toMinorUnitsNumber } from "../src/index.js";
import { usePayments } from "../src/usePayments.js";

/** Razorpay Checkout (https://checkout.razorpay.com/v1/checkout.js), as much as this page uses. */
declare const Razorpay: new (options: {
  key: string;
  amount: number;
  currency: string;
  order_id: string;
  handler: (paid: { razorpay_payment_id: string; razorpay_order_id: string; razorpay_signature: string }) => void;
}) => { open(): void };

const client = createPaymentsClient({
  baseUrl: "https://api.example.com/dev",
  getToken: async () => sessionStorage.getItem("jwt"),
});

export function Wallet({ paymentMethodId }: { paymentMethodId: string }) {
  const { balance, loading, error, initiateDeposit, confirm } = usePayments(client);
  const [amount, setAmount] = useState("1000.00"); // the input's text, never parseFloat-ed

  const pay = (deposit: DepositInitiated) => {
    if (deposit.gateway === "MOCK") {
      window.location.assign(deposit.checkout_url); // the Mock page: Pay credits the wallet (webhook)
      return;
    } // Stripe: confirm deposit.client_secret with Stripe.js, then call confirm() the same way
    new Razorpay({
      key: deposit.key,
      amount: toMinorUnitsNumber(deposit.amount),
      currency: deposit.currency,
      order_id: deposit.order_id,
      handler: (paid) =>
        void confirm({
          gateway_payment_id: paid.razorpay_payment_id,
          gateway_data: { razorpay_order_id: paid.razorpay_order_id, razorpay_signature: paid.razorpay_signature },
        }).catch(() => undefined), // shown from `error`
    }).open();
  };

  return (
    <form
      onSubmit={(event) => {
        event.preventDefault();
        initiateDeposit(amount, paymentMethodId).then(pay, () => undefined);
      }}
    >
      <p>Available: {balance ? `${balance.available_balance} ${balance.currency}` : "…"}</p>
      <input value={amount} onChange={(event) => setAmount(event.target.value)} inputMode="decimal" />
      <button disabled={loading}>Add money</button>
      {error && <p role="alert">{error.message}</p>}
    </form>
  );
}
