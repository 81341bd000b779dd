// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Address} from "@openzeppelin/contracts/utils/Address.sol";
import {IUSDC} from "./interfaces/IUSDC.sol";

/// @title Deposits: top up a Cluster account from a wallet
/// @notice Funds go straight to the treasury; the `Deposited` event names the Cluster account (a 32-byte
///         deposit reference the service hands each user), and Cluster's indexer credits that account once the
///         deposit is confirmed. USDC by approve, by permit, or gasless by EIP-3009 (the nonce commits to the
///         account, so a relayer cannot redirect it); ETH is credited at the service's configured rate.
contract Deposits is Ownable {
    using SafeERC20 for IUSDC;

    IUSDC public immutable usdc;
    address public treasury;

    /// @param token USDC's address, or address(0) for ETH.
    event Deposited(bytes32 indexed account, address indexed from, address indexed token, uint256 amount);
    event TreasuryChanged(address indexed treasury);

    error ZeroAmount();
    error ZeroAddress();

    constructor(address initialOwner, IUSDC usdc_, address treasury_) Ownable(initialOwner) {
        if (address(usdc_) == address(0) || treasury_ == address(0)) revert ZeroAddress();
        usdc = usdc_;
        treasury = treasury_;
        emit TreasuryChanged(treasury_);
    }

    function deposit(bytes32 account, uint256 amount) external {
        if (amount == 0) revert ZeroAmount();
        usdc.safeTransferFrom(msg.sender, treasury, amount);
        emit Deposited(account, msg.sender, address(usdc), amount);
    }

    function depositWithPermit(bytes32 account, uint256 amount, uint256 deadline, uint8 v, bytes32 r, bytes32 s)
        external
    {
        if (amount == 0) revert ZeroAmount();
        try usdc.permit(msg.sender, address(this), amount, deadline, v, r, s) {} catch {}
        usdc.safeTransferFrom(msg.sender, treasury, amount);
        emit Deposited(account, msg.sender, address(usdc), amount);
    }

    /// @notice Relayable deposit: `from` signed a ReceiveWithAuthorization to this contract whose nonce is
    ///         `depositNonce(account, salt)`.
    function depositWithAuthorization(
        bytes32 account,
        address from,
        uint256 amount,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 salt,
        bytes calldata signature
    ) external {
        if (amount == 0) revert ZeroAmount();
        usdc.receiveWithAuthorization(
            from, address(this), amount, validAfter, validBefore, depositNonce(account, salt), signature
        );
        usdc.safeTransfer(treasury, amount);
        emit Deposited(account, from, address(usdc), amount);
    }

    function depositETH(bytes32 account) external payable {
        if (msg.value == 0) revert ZeroAmount();
        Address.sendValue(payable(treasury), msg.value);
        emit Deposited(account, msg.sender, address(0), msg.value);
    }

    function depositNonce(bytes32 account, bytes32 salt) public view returns (bytes32) {
        return keccak256(abi.encode(block.chainid, address(this), account, salt));
    }

    function setTreasury(address treasury_) external onlyOwner {
        if (treasury_ == address(0)) revert ZeroAddress();
        treasury = treasury_;
        emit TreasuryChanged(treasury_);
    }
}
