/**
 * The spec's `usePayments` hook, rewritten against the typed client. A thin wrapper: the logic
 * (and its tests) live in {@link PaymentsController}; React only subscribes to its state.
 *
 * ```tsx
 * const client = createPaymentsClient({ baseUrl: API_URL, getToken }); // once, outside the component
 * function Wallet() {
 *   const { balance, loading, error, initiateDeposit } = usePayments(client);
 *   ...
 *   {error && <p role="alert">{error.message}</p>}
 * }
 * ```
 */
import { useEffect, useMemo, useSyncExternalStore } from "react";

import type { PaymentsClient } from "./client.js";
import { PaymentsController, type PaymentsState } from "./paymentsController.js";

export interface UsePayments extends PaymentsState {
  initiateDeposit: PaymentsController["initiateDeposit"];
  confirm: PaymentsController["confirm"];
  refreshBalance: PaymentsController["refreshBalance"];
  clearError: PaymentsController["clearError"];
}

/** Payments state for one client (create the client once: a new one starts a new state). The
 * balance is read on mount; `error.message` is the API's message, ready to show. */
export function usePayments(client: PaymentsClient): UsePayments {
  const controller = useMemo(() => new PaymentsController(client), [client]);
  const state = useSyncExternalStore(controller.subscribe, controller.getSnapshot, controller.getSnapshot);
  useEffect(() => {
    controller.refreshBalance().catch(() => undefined); // a failure is in `state.error`
  }, [controller]);
  const { initiateDeposit, confirm, refreshBalance, clearError } = controller;
  return { ...state, initiateDeposit, confirm, refreshBalance, clearError };
}
